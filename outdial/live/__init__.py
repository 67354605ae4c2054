"""``outdial run``'s machinery: the run configuration, the simulated platform behind the
emulators, the wiring of engine, adapters and emulators, and the live terminal view."""
