"""Consent and privacy: consents per purpose and channel (double opt-in for advertising by
e-mail), the export of everything stored about a person, and its erasure."""
