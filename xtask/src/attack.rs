//! `cargo xtask attack [FILTER]`: the attack suite (the `attack` binary of
//! the `swim-tests` crate): real members over loopback, attacked; one line
//! per attack and `attacks: tried=N refused=M`.

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    crate::run_tests_bin("attack", args, "an attack got through")
}
