"""CMS real-time socket: framing (lines, fields, report layouts), the TCP server CMS
connects to (the engine's skill feed), and a loopback emulator of the CMS side."""
