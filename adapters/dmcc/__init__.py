"""AES DMCC (Device, Media and Call Control) XML over TCP/TLS: framing, messages, the
client that implements the engine's ``AgentFeed``, and a loopback emulator."""
