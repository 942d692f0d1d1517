"""Training jobs outside the server's event loop: the executor interface and what every executor
shares (base.py), one executor per process on this machine (local_executor.py) or per Ray task
(ray_executor.py), and the choice between them from the settings (factory.py)."""
