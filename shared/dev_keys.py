"""The development keys, known to everyone and refused in production (``shared.settings``).

A module of its own so that small tools (the development token command) need not load the
settings machinery to learn them.
"""

# The development identity provider's token signing key (base64url Ed25519 seed): the token
# command and the tests sign with it, services trust its public key when no key set is given.
DEV_SIGNING_KEY = "vQiDFuCRAOl9beT9e9u7HH1fQVE4Fvp5wjOM4Y4keMs"
# Every service that hashes a resident ID must use the same key, or bans and progress queries
# silently stop matching.
DEV_ID_HASH_KEY = "dev-only-id-hash-key"
# The development audit checkpoint key (base64url Ed25519 seed, ``shared.audit.checkpoint``):
# anyone can sign checkpoints with it, so production refuses it.
DEV_AUDIT_CHECKPOINT_KEY = "jL3GkunDTK_q-Rvn4l966YBh7mQB6X6OQ2OJUgkFiW4"
