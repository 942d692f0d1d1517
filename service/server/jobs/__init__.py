"""Training jobs outside the server's event loop: the executor interface and what every executor
shares (base.py), one executor per process on this machine (local_executor.py) or per Ray task
(ray_executor.py), the choice between them from the settings (factory.py), and this server's lease
on its jobs, with the takeover of a dead replica's (leases.py)."""
