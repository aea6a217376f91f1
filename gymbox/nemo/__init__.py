"""NeMo Gym's own servers, unchanged, each in its own container of a gymbox stack.

    release   a pinned nemo-gym release's files (its wheel from PyPI, unpacked once into a cache)
    servers   which resources-server instances are NeMo Gym servers, and where their folders are
    images    the shared NeMo Gym layer image and the per-server images on top, content-tagged
    runtime   the config a NeMo server process reads (NEMO_GYM_CONFIG_DICT), its compose service, the Ray head
    conformance  replaying a release's recorded rollouts against its servers (benchmarks/nemo_replay_all.py)

Nothing is imported here: the stack imports these only when a config names a NeMo Gym server.
"""
