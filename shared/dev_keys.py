"""The development keys, known to everyone and refused in production (``shared.settings``).

A module of its own so that small tools (the development token command) need not load the
settings machinery to learn them.
"""

DEV_SIGNING_KEY = "dev-only-signing-key-change-me-0123456789abcdef"
# Every service that hashes a resident ID must use the same key, or bans and progress queries
# silently stop matching.
DEV_ID_HASH_KEY = "dev-only-id-hash-key"
