//! Parsing of `#[retry(...)]` arguments, every mistake reported at its token.

use proc_macro2::TokenStream;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Expr, ExprLit, ExprPath, Ident, Lit, LitInt, LitStr, Token};

use crate::ctxt::Ctxt;
use crate::retry::duration;
use crate::suggest::{closest, list};

pub(crate) const POLICY: &str = "policy";
pub(crate) const WHEN: &str = "when";
pub(crate) const ON_RETRY: &str = "on_retry";
pub(crate) const ON_GIVE_UP: &str = "on_give_up";
pub(crate) const ATTEMPT: &str = "attempt";
pub(crate) const BREAKER: &str = "breaker";
pub(crate) const BUDGET: &str = "budget";
pub(crate) const BACKOFF: &str = "backoff";
pub(crate) const MAX_RETRIES: &str = "max_retries";
pub(crate) const INITIAL_DELAY: &str = "initial_delay";
pub(crate) const MAX_DELAY: &str = "max_delay";
pub(crate) const FACTOR: &str = "factor";
pub(crate) const STEP: &str = "step";
pub(crate) const JITTER: &str = "jitter";
pub(crate) const DEADLINE: &str = "deadline";
pub(crate) const ATTEMPT_TIMEOUT: &str = "attempt_timeout";
pub(crate) const MAX_RETRY_AFTER: &str = "max_retry_after";
pub(crate) const CRATE: &str = "crate";

/// Keys that build a policy in place, which `policy = ...` excludes.
pub(crate) const INLINE_KEYS: &[&str] = &[
    BACKOFF,
    MAX_RETRIES,
    INITIAL_DELAY,
    MAX_DELAY,
    FACTOR,
    STEP,
    JITTER,
    DEADLINE,
    ATTEMPT_TIMEOUT,
    MAX_RETRY_AFTER,
];
const OTHER_KEYS: &[&str] = &[
    POLICY, WHEN, ON_RETRY, ON_GIVE_UP, ATTEMPT, BREAKER, BUDGET, CRATE,
];

/// A value with the span of the key that set it.
pub(crate) struct Set<T> {
    pub(crate) key: Ident,
    pub(crate) value: T,
}

/// A duration as written and as nanoseconds.
pub(crate) struct Dur {
    pub(crate) lit: LitStr,
    pub(crate) nanos: u64,
}

#[derive(Default)]
pub(crate) struct Args {
    pub(crate) policy: Option<Set<Expr>>,
    pub(crate) when: Option<Set<ExprPath>>,
    pub(crate) on_retry: Option<Set<ExprPath>>,
    pub(crate) on_give_up: Option<Set<ExprPath>>,
    pub(crate) attempt: Option<Set<Ident>>,
    pub(crate) breaker: Option<Set<Expr>>,
    pub(crate) budget: Option<Set<Expr>>,
    /// The path rebuff is reached by, when not `::rebuff`.
    pub(crate) krate: Option<Set<syn::Path>>,
    pub(crate) backoff: Option<Set<LitStr>>,
    pub(crate) max_retries: Option<Set<LitInt>>,
    pub(crate) initial_delay: Option<Set<Dur>>,
    pub(crate) max_delay: Option<Set<Dur>>,
    pub(crate) factor: Option<Set<LitInt>>,
    pub(crate) step: Option<Set<Dur>>,
    pub(crate) jitter: Option<Set<LitStr>>,
    pub(crate) deadline: Option<Set<Dur>>,
    pub(crate) attempt_timeout: Option<Set<Dur>>,
    pub(crate) max_retry_after: Option<Set<Dur>>,
    /// Inline keys written, in order, for the `policy` conflict.
    pub(crate) inline_written: Vec<Ident>,
}

/// `key = value` pairs, parsed loosely so each is checked on its own.
struct Raw(Punctuated<RawArg, Token![,]>);

struct RawArg {
    key: Ident,
    value: Option<Expr>,
}

impl Parse for Raw {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        Ok(Raw(Punctuated::parse_terminated(input)?))
    }
}

impl Parse for RawArg {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let key: Ident = input.call(syn::ext::IdentExt::parse_any)?;
        let value = if input.peek(Token![=]) {
            input.parse::<Token![=]>()?;
            Some(input.parse()?)
        } else {
            None
        };
        Ok(RawArg { key, value })
    }
}

pub(crate) fn parse(cx: &Ctxt, tokens: TokenStream) -> Args {
    let mut args = Args::default();
    let raw = match syn::parse2::<Raw>(tokens) {
        Ok(raw) => raw,
        Err(err) => {
            cx.syn_error(err);
            return args;
        }
    };
    let mut seen: Vec<String> = Vec::new();
    for RawArg { key, value } in raw.0 {
        let name = key.to_string();
        if seen.contains(&name) {
            cx.error_at(
                key.span(),
                format!("duplicate `retry` argument `{name}`; remove one"),
            );
            continue;
        }
        seen.push(name.clone());
        if INLINE_KEYS.contains(&name.as_str()) {
            args.inline_written.push(key.clone());
        }
        let Some(value) = value else {
            if name == POLICY
                || INLINE_KEYS.contains(&name.as_str())
                || OTHER_KEYS.contains(&name.as_str())
            {
                cx.error_at(
                    key.span(),
                    format!("`{name}` needs a value: {}", example(&name)),
                );
            } else {
                unknown(cx, &key);
            }
            continue;
        };
        set_value(cx, &mut args, key, &name, value);
    }
    args
}

/// `crate = path`.
fn set_crate(cx: &Ctxt, args: &mut Args, key: Ident, value: Expr) {
    match value {
        Expr::Path(ExprPath {
            path, qself: None, ..
        }) => args.krate = Some(Set { key, value: path }),
        other => cx.error_spanned_by(
            &other,
            "`crate` takes the path rebuff is reached by: `crate = my_common::rebuff`",
        ),
    }
}

/// Checks and stores the value of one key.
fn set_value(cx: &Ctxt, args: &mut Args, key: Ident, name: &str, value: Expr) {
    match name {
        POLICY => args.policy = Some(Set { key, value }),
        BREAKER => args.breaker = Some(Set { key, value }),
        BUDGET => args.budget = Some(Set { key, value }),
        CRATE => set_crate(cx, args, key, value),
        WHEN | ON_RETRY | ON_GIVE_UP => {
            let Expr::Path(path) = value else {
                cx.error_spanned_by(
                    &value,
                    format!("`{name}` takes the path of a function: {}", example(name)),
                );
                return;
            };
            let set = Some(Set { key, value: path });
            match name {
                WHEN => args.when = set,
                ON_RETRY => args.on_retry = set,
                _ => args.on_give_up = set,
            }
        }
        ATTEMPT => match value {
            Expr::Path(ExprPath {
                path, qself: None, ..
            }) if path.get_ident().is_some() => {
                let ident = path.get_ident().cloned().expect("checked");
                args.attempt = Some(Set { key, value: ident });
            }
            other => cx.error_spanned_by(
                &other,
                "`attempt` names a variable for the body: `attempt = attempt`",
            ),
        },
        BACKOFF => {
            if let Some(lit) = one_of(cx, name, &value, &["exponential", "constant", "linear"]) {
                args.backoff = Some(Set { key, value: lit });
            }
        }
        JITTER => {
            if let Some(lit) = one_of(cx, name, &value, &["none", "full", "equal", "decorrelated"])
            {
                args.jitter = Some(Set { key, value: lit });
            }
        }
        MAX_RETRIES | FACTOR => {
            let Some(int) = integer(cx, name, &value) else {
                return;
            };
            if name == FACTOR && int.base10_parse::<u32>().is_ok_and(|f| f == 0) {
                cx.error_spanned_by(
                    &int,
                    "`factor` must be at least 1: each delay is the previous one times the factor",
                );
                return;
            }
            let set = Some(Set { key, value: int });
            if name == MAX_RETRIES {
                args.max_retries = set;
            } else {
                args.factor = set;
            }
        }
        INITIAL_DELAY | MAX_DELAY | STEP | DEADLINE | ATTEMPT_TIMEOUT | MAX_RETRY_AFTER => {
            let Some(lit) = string(cx, name, &value) else {
                return;
            };
            let nanos = match duration::parse(&lit.value()) {
                Ok(nanos) => nanos,
                Err(why) => {
                    cx.error_spanned_by(&lit, format!("invalid duration `{}`: {why}; write a number and a unit, e.g. `500ms`, `20s`, `1m30s` (units: ns, us or µs, ms, s, sec or secs, m, min or mins, h, hr or hrs)", lit.value()));
                    return;
                }
            };
            if nanos == 0 && matches!(name, DEADLINE | ATTEMPT_TIMEOUT) {
                cx.error_spanned_by(
                    &lit,
                    format!("`{name}` of zero leaves no time for any attempt"),
                );
                return;
            }
            let set = Some(Set {
                key,
                value: Dur { lit, nanos },
            });
            match name {
                INITIAL_DELAY => args.initial_delay = set,
                MAX_DELAY => args.max_delay = set,
                STEP => args.step = set,
                DEADLINE => args.deadline = set,
                ATTEMPT_TIMEOUT => args.attempt_timeout = set,
                _ => args.max_retry_after = set,
            }
        }
        _ => unknown(cx, &key),
    }
}

fn unknown(cx: &Ctxt, key: &Ident) {
    let name = key.to_string();
    let all: Vec<&str> = OTHER_KEYS.iter().chain(INLINE_KEYS).copied().collect();
    let list = list(&all);
    let message = match closest(&name, &all) {
        Some(close) => format!(
            "unknown `retry` argument `{name}`; did you mean `{close}`? (expected one of {list})"
        ),
        None => format!("unknown `retry` argument `{name}`; expected one of {list}"),
    };
    cx.error_at(key.span(), message);
}

fn example(name: &str) -> &'static str {
    match name {
        POLICY => "`policy = STANDARD` (a `rebuff::Policy` constant or static)",
        CRATE => "`crate = my_common::rebuff` (the path rebuff is reached by)",
        WHEN => "`when = my_advice` with `fn my_advice(err: &MyError) -> rebuff::Advice`",
        ON_RETRY => {
            "`on_retry = log_retry` with `fn log_retry(event: &rebuff::retry::RetryEvent<'_, MyError>)`"
        }
        ON_GIVE_UP => {
            "`on_give_up = log_give_up` with `fn log_give_up(event: &rebuff::retry::GiveUp<'_, MyError>)`"
        }
        ATTEMPT => "`attempt = attempt`",
        BREAKER => "`breaker = UPSTREAM` (a `static rebuff::Breaker`)",
        BUDGET => "`budget = RETRIES` (a `static rebuff::Budget`)",
        MAX_RETRIES => "`max_retries = 3`",
        FACTOR => "`factor = 2`",
        JITTER => "`jitter = \"full\"`",
        BACKOFF => "`backoff = \"exponential\"`",
        _ => "a duration such as `\"500ms\"` or `\"20s\"`",
    }
}

/// A string literal that must be one of `choices`.
fn one_of(cx: &Ctxt, name: &str, value: &Expr, choices: &[&str]) -> Option<LitStr> {
    let lit = string(cx, name, value)?;
    if choices.contains(&lit.value().as_str()) {
        return Some(lit);
    }
    let expected = list(choices);
    cx.error_spanned_by(
        &lit,
        format!(
            "unknown {name} `{}`; expected one of {expected}",
            lit.value()
        ),
    );
    None
}

fn string(cx: &Ctxt, name: &str, value: &Expr) -> Option<LitStr> {
    if let Expr::Lit(ExprLit {
        lit: Lit::Str(lit), ..
    }) = value
    {
        return Some(lit.clone());
    }
    cx.error_spanned_by(
        value,
        format!("expected a string literal: {}", example(name)),
    );
    None
}

fn integer(cx: &Ctxt, name: &str, value: &Expr) -> Option<LitInt> {
    if let Expr::Lit(ExprLit {
        lit: Lit::Int(int), ..
    }) = value
    {
        if int.base10_parse::<u32>().is_ok() {
            return Some(int.clone());
        }
        cx.error_spanned_by(int, format!("`{name}` must fit in a `u32`"));
        return None;
    }
    cx.error_spanned_by(value, format!("expected an integer: {}", example(name)));
    None
}

/// `Policy`'s `max_delay` when none is given, for the initial-delay check.
const DEFAULT_MAX_DELAY_NANOS: u64 = 60_000_000_000;

impl Args {
    /// Rules between keys: `policy` excludes inline keys; the initial delay
    /// may not exceed the cap (given or the default); a key that only one
    /// backoff curve reads is refused on the others, rather than ignored.
    pub(crate) fn validate(&self, cx: &Ctxt) {
        if self.policy.is_some() {
            for key in &self.inline_written {
                cx.error_at(
                    key.span(),
                    format!("`{key}` cannot be combined with `policy`: set it on the policy (`.{key}(...)`), or drop `policy` and give every setting inline"),
                );
            }
        }
        let backoff = self.backoff.as_ref().map(|b| b.value.value());
        let constant = backoff.as_deref() == Some("constant");
        let decorrelated =
            self.jitter.as_ref().map(|j| j.value.value()).as_deref() == Some("decorrelated");
        // A jitter that failed to parse is reported already: nothing is
        // said of what it would change.
        let jitter_unknown =
            self.jitter.is_none() && self.inline_written.iter().any(|key| key == "jitter");
        // A constant delay is not capped; decorrelated jitter, which grows
        // from the last delay, is.
        let uncapped = constant && !decorrelated;
        if let (true, false, None, Some(max)) =
            (uncapped, jitter_unknown, &self.policy, &self.max_delay)
        {
            cx.error_at(
                max.key.span(),
                "`max_delay` caps delays that grow: a constant delay is `initial_delay` every time (decorrelated jitter would be capped by it)",
            );
        }
        if let Some(initial) = self.initial_delay.as_ref().filter(|_| !uncapped) {
            match &self.max_delay {
                Some(max) if initial.value.nanos > max.value.nanos => cx.error_spanned_by(
                    &initial.value.lit,
                    format!("`initial_delay` ({}) is longer than `max_delay` ({}): the cap would cut every delay", initial.value.lit.value(), max.value.lit.value()),
                ),
                None if initial.value.nanos > DEFAULT_MAX_DELAY_NANOS => cx.error_spanned_by(
                    &initial.value.lit,
                    format!("`initial_delay` ({}) is longer than the default `max_delay` (60s), which would cut every delay: set `max_delay` too", initial.value.lit.value()),
                ),
                _ => {}
            }
        }
        if backoff.as_deref() != Some("linear") {
            if let Some(step) = &self.step {
                let why = match &backoff {
                    Some(_) => "",
                    None => ": add `backoff = \"linear\"` (the default curve is exponential)",
                };
                cx.error_at(
                    step.key.span(),
                    format!("`step` only applies to `backoff = \"linear\"`{why}"),
                );
            }
        }
        if let (Some(curve), Some(factor)) = (&backoff, &self.factor) {
            if curve != "exponential" {
                cx.error_at(
                    factor.key.span(),
                    format!("`factor` only applies to exponential backoff; a {curve} delay does not grow by a factor"),
                );
            }
        }
    }
}
