"""A small scripted world for the EPM emulator in tests: outcomes by the number's last
digit, times on ``time.monotonic``."""

from __future__ import annotations

import time

from adapters.epm.emulator import LaunchRefused, SessionStatus

# last digit -> outcome
OUTCOMES = {"0": "busy", "1": "noanswer", "2": "invalid", "3": "machine"}


class ScriptedPorts:
    def __init__(self, ports=4, ring_s=0.05, talk_s=0.1, patience_s=1.0):
        self.ports = ports
        self.ring_s, self.talk_s, self.patience_s = ring_s, talk_s, patience_s
        self.sessions: dict[str, dict] = {}
        self.events: list[tuple[str, str, str]] = []
        self.messages: list[tuple[str, str, dict]] = []

    def _busy_ports(self):
        return sum(1 for s in self.sessions.values()
                   if s["kind"] == "voice" and self._status(s).state != "ended")

    def resources(self):
        free = max(self.ports - self._busy_ports(), 0)
        return self.ports, free, 0

    def launch(self, sid, op, fields):
        if self._busy_ports() >= self.ports:
            raise LaunchRefused("no outbound resources available")
        number = fields["toURI"].split(":")[-1]
        self.sessions[sid] = {"kind": "voice", "t0": time.monotonic(), "number": number,
                              "outcome": OUTCOMES.get(number[-1:], "human"),
                              "connect": None, "drop": None, "fields": fields}

    def send_message(self, sid, channel, fields):
        self.messages.append((sid, channel, fields))
        ok = not fields["toAddr"].startswith("bad")
        self.sessions[sid] = {"kind": channel, "t0": time.monotonic(), "ok": ok}

    def ccxml_event(self, sid, name, body):
        s = self.sessions.get(sid)
        self.events.append((sid, name, body))
        if s is None or self._status(s).state == "ended":
            return False
        key = {"outdial.connect": "connect", "outdial.drop": "drop"}.get(name)
        if key is None:
            return False
        s[key] = time.monotonic()
        return True

    def status(self, sid):
        s = self.sessions.get(sid)
        return None if s is None else self._status(s)

    def _status(self, s) -> SessionStatus:
        now = time.monotonic()
        age = now - s["t0"]
        if s["kind"] != "voice":
            if age < self.ring_s:
                return SessionStatus("launching")
            return SessionStatus("ended", "delivered" if s["ok"] else "undelivered")
        out = s["outcome"]
        if age < self.ring_s:
            return SessionStatus("ringing")
        if out in ("busy", "noanswer", "invalid"):
            return SessionStatus("ended", out)
        human = out == "human"
        if s["drop"] is not None:
            return SessionStatus("ended", "completed", human)
        if s["connect"] is not None:
            if now - s["connect"] < self.talk_s:
                return SessionStatus("connected", "", human)
            return SessionStatus("ended", "completed", human)
        if age - self.ring_s > self.patience_s:
            return SessionStatus("ended", "hangup", human)
        return SessionStatus("answered", "", human)
