"""The sandbox: a server that runs untrusted Python (a model's code) with per-run limits.

Environments never run model-written code in their own process (DESIGN.md §5); they POST it to a
`sandboxes` instance (`python_sandbox`) and read back exit code, output and resource use. Per run, the
executor applies CPU, address-space, process-count, file-size and wall-time limits and kills everything
the run started, whichever session it fled to. The container `gymbox up` renders for it adds the rest:
an internal network with no egress, a read-only root filesystem with a small tmpfs, no capabilities,
a pids limit and its own user id. Outside that container (`gymbox serve` on a laptop) only the per-run
limits apply: the code can reach the network and write wherever its user can.
"""
