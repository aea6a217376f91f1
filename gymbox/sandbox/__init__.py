"""The sandbox: a server that runs untrusted Python (a model's code), each run isolated and limited.

Environments never run model-written code in their own process; they POST it to a `sandboxes` instance
(`python_sandbox`) and read back exit code, output and resource use. Per run, the executor applies CPU,
address-space, process-count, file-size and wall-time limits, a seccomp filter (no network socket, no
ptrace), and, where the server may switch users, a user and a folder of its own (`slots`); after it,
everything the run started or left is removed. A sandbox that cannot run a request honestly answers 503,
never a made-up result. The container `gymbox up` renders for it adds a tmpfs per run, a read-only root,
an internal network and a pids limit. docs/sandbox.md has the threat model and what is not covered,
including what holds outside that container (`gymbox serve` on a laptop).
"""
