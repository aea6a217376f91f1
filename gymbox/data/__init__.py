"""Dataset tools behind `gymbox data`: validate task rows, prepare training splits, export rollouts.

- `datasets` — the `datasets:` entries of a stack's agents, with their files found and located.
- `stats` — statistics of a task-row file, written as `<stem>_stats.json`, and their diff.
- `validate` — every row of a dataset checked, every error named by file:line and field.
- `prepare` — train / validation datasets collated, stamped with `agent_ref`, shuffled by seed.
- `chat` — Responses API items as chat messages for trainers.
- `export` — rollouts selected by reward and written as SFT or DPO rows.
- `report` — the rich tables the commands print.
"""
