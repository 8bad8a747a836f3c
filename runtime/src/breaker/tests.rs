use super::*;

#[test]
fn opens_after_consecutive_failures_and_recovers_through_a_probe() {
    let breaker = Breaker::new()
        .failures(3)
        .cooldown(Duration::from_millis(30))
        .probe_timeout(Duration::from_secs(600));
    for _ in 0..2 {
        breaker.record_failure(breaker.allow().unwrap());
    }
    breaker.record_success(breaker.allow().unwrap());
    for _ in 0..3 {
        breaker.record_failure(breaker.allow().unwrap());
    }
    assert_eq!(breaker.state(), State::Open);
    // (Refused while open: `an_open_breaker_refuses_until_its_cooldown`.)
    std::thread::sleep(Duration::from_millis(40));
    let probe = breaker.allow().unwrap();
    assert_eq!(breaker.state(), State::HalfOpen);
    assert!(breaker.allow().is_err(), "one probe at a time");
    breaker.record_success(probe);
    assert_eq!(breaker.state(), State::Closed);
    assert_eq!(breaker.times_opened(), 1);
}

/// A cooldown long beside any stall of a loaded machine: still open
/// when asked.
#[test]
fn an_open_breaker_refuses_until_its_cooldown() {
    let breaker = Breaker::new()
        .failures(1)
        .cooldown(Duration::from_secs(600));
    breaker.record_failure(breaker.allow().unwrap());
    let refused = breaker.allow().unwrap_err();
    let wait = refused.retry_after.unwrap();
    assert!(wait <= Duration::from_secs(600) && wait > Duration::from_secs(500));
    assert_eq!(breaker.state(), State::Open);
}

/// A probe that never answers does not hold the circuit: past the probe
/// timeout a new probe goes, and the old one's late outcome counts as an
/// ordinary call's, without taking the new round's slot.
#[test]
fn a_probe_gone_unanswered_is_given_up_on() {
    let breaker = Breaker::new()
        .failures(1)
        .cooldown(Duration::from_millis(10))
        .probe_timeout(Duration::from_millis(200));
    breaker.record_failure(breaker.allow().unwrap());
    std::thread::sleep(Duration::from_millis(15));
    let hung = breaker.allow().unwrap();
    assert!(hung.is_probe());
    std::thread::sleep(Duration::from_millis(250));
    let fresh = breaker.allow().expect("the hung probe is given up on");
    assert!(fresh.is_probe());
    assert_eq!(breaker.state(), State::HalfOpen);
    // The hung probe fails at last: an ordinary failure, in half-open.
    breaker.record_failure(hung);
    assert_eq!(breaker.state(), State::HalfOpen);
    assert!(breaker.allow().is_err(), "the new probe holds its slot");
    breaker.record_success(fresh);
    assert_eq!(breaker.state(), State::Closed);
    assert_eq!(breaker.times_opened(), 1);
}

/// Without a probe timeout of its own, a breaker of no cooldown still
/// lets one probe through at a time: its probes are given a second.
#[test]
fn a_zero_cooldown_keeps_the_probe_limit() {
    let breaker = Breaker::new().failures(1).cooldown(Duration::ZERO);
    breaker.record_failure(breaker.allow().unwrap());
    let probe = breaker.allow().unwrap();
    assert!(probe.is_probe());
    assert!(breaker.allow().is_err(), "one probe at a time");
    breaker.record_success(probe);
    assert_eq!(breaker.state(), State::Closed);
}

#[test]
fn a_failed_probe_opens_again() {
    let breaker = Breaker::new()
        .failures(1)
        .cooldown(Duration::from_millis(10));
    breaker.record_failure(breaker.allow().unwrap());
    std::thread::sleep(Duration::from_millis(15));
    breaker.record_failure(breaker.allow().unwrap());
    assert_eq!(breaker.state(), State::Open);
    assert_eq!(breaker.times_opened(), 2);
}

#[test]
fn failure_rate_over_the_window() {
    let breaker = Breaker::new()
        .failures(1000)
        .failure_rate(50, 10, Duration::from_secs(60));
    for i in 0..10 {
        let permit = breaker.allow().unwrap();
        if i % 2 == 0 {
            breaker.record_success(permit);
        } else {
            breaker.record_failure(permit);
        }
    }
    assert_eq!(breaker.state(), State::Open, "5 of 10 failed");
}

#[test]
fn keyed_breakers_are_independent() {
    static HOSTS: Breakers = Breakers::new(Breaker::new().failures(1));
    let a = HOSTS.get("a.example.com");
    a.record_failure(a.allow().unwrap());
    assert_eq!(a.state(), State::Open);
    assert_eq!(HOSTS.get("b.example.com").state(), State::Closed);
    assert!(core::ptr::eq(a, HOSTS.get("a.example.com")));
}

#[test]
fn a_pause_refuses_everyone_until_it_ends() {
    let paused = Breaker::new();
    paused.pause_for(Duration::from_secs(600));
    let refused = paused.allow().unwrap_err();
    assert!(refused.retry_after.is_some());
    let breaker = Breaker::new();
    breaker.pause_for(Duration::from_millis(20));
    std::thread::sleep(Duration::from_millis(25));
    assert!(breaker.allow().is_ok());
    assert_eq!(breaker.state(), State::Closed);
}
