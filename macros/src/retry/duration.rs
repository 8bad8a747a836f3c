//! Durations written in attributes: `"500ms"`, `"20s"`, `"1m30s"`, `"1.5s"`.

/// Nanoseconds of a duration string, or why it is not one.
pub(crate) fn parse(text: &str) -> Result<u64, &'static str> {
    let text = text.trim();
    if text.is_empty() {
        return Err("it is empty");
    }
    let mut total: u128 = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if number_len == 0 {
            return Err("a unit must follow a number");
        }
        let (number, after) = rest.split_at(number_len);
        let after = after.trim_start();
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.' || c.is_whitespace())
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        let scale: u128 = match unit {
            "ns" => 1,
            "us" | "µs" => 1_000,
            "ms" => 1_000_000,
            "s" | "sec" | "secs" => 1_000_000_000,
            "m" | "min" | "mins" => 60_000_000_000,
            "h" | "hr" | "hrs" => 3_600_000_000_000,
            "" => return Err("the number has no unit"),
            _ => return Err("unknown unit"),
        };
        total = total
            .checked_add(scaled(number, scale)?)
            .ok_or("it is too long")?;
        rest = after.trim_start();
    }
    u64::try_from(total).map_err(|_| "it is too long")
}

/// `number * scale` for a decimal number, exact to the nanosecond.
fn scaled(number: &str, scale: u128) -> Result<u128, &'static str> {
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() || fraction.contains('.') {
        return Err("the number is malformed");
    }
    let whole: u128 = whole.parse().map_err(|_| "the number is too large")?;
    let mut value = whole.checked_mul(scale).ok_or("it is too long")?;
    let mut place = scale;
    for digit in fraction.bytes() {
        place /= 10;
        value = value
            .checked_add(u128::from(digit - b'0') * place)
            .ok_or("it is too long")?;
    }
    if !fraction.is_empty() && place == 0 {
        return Err("it is more precise than a nanosecond");
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn units_and_compounds() {
        assert_eq!(parse("500ms"), Ok(500_000_000));
        assert_eq!(parse("20s"), Ok(20_000_000_000));
        assert_eq!(parse("1m30s"), Ok(90_000_000_000));
        assert_eq!(parse("1m 30s"), Ok(90_000_000_000));
        assert_eq!(parse("1.5s"), Ok(1_500_000_000));
        assert_eq!(parse("2h"), Ok(7_200_000_000_000));
        assert_eq!(parse("250us"), Ok(250_000));
        assert_eq!(parse("0s"), Ok(0));
        assert_eq!(parse("5 secs"), Ok(5_000_000_000));
    }

    #[test]
    fn mistakes() {
        assert_eq!(parse(""), Err("it is empty"));
        assert_eq!(parse("5"), Err("the number has no unit"));
        assert_eq!(parse("5days"), Err("unknown unit"));
        assert_eq!(parse("s"), Err("a unit must follow a number"));
        assert_eq!(parse("1.2.3s"), Err("the number is malformed"));
        assert_eq!(
            parse("1.0000000001s"),
            Err("it is more precise than a nanosecond")
        );
        assert_eq!(parse("99999999999h"), Err("it is too long"));
        // The whole part fits the intermediate, the fraction does not.
        assert_eq!(
            parse("340282366920938463463374607431768211.9us"),
            Err("it is too long")
        );
    }
}
