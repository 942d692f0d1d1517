"""service: the gRPC server, its store and job executors, the Python client and the CLI (see README, "The service")."""
