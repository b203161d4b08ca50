"""The pipeline and delivery in a process of their own (`[node] processes = 2`): the
supervisor that `serve` runs (supervisor.py), the child's entry point (`python -m
listfed.courier`), and the one place both build a Deliverer from the config (build.py)."""
