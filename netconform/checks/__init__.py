"""Pure checkers: observations in, a Verdict with evidence out. No I/O here."""
