"""`python -m service.server`: the same as `scalinglaw serve` with settings from the environment."""

from service.server.serve import main

main()
