"""DNS questions asked through the agent, wherever it runs (a pod, a lab namespace, a
container): every question in one agent call, each answer as the DNS checker reads it."""

from __future__ import annotations

import json
from collections.abc import Sequence

from netconform.checks.dns import Answer, Question, answer_of
from netconform.exec import Exec, ExecTimeout

# On top of the probe timeout: the agent's start-up and the transport.
SLACK = 20.0


def probe(question: Question, server: str, timeout: float) -> dict[str, object]:
    """The agent probe asking `server` (address, port 53 unless given) this question."""
    return {
        "id": str(question),
        "dns": question.name,
        "type": question.type,
        "server": server,
        "timeout": timeout,
    }


def ask(
    site: Exec,
    agent: Sequence[str],
    questions: dict[Question, str],
    timeout: float = 2.0,
) -> dict[Question, Answer]:
    """Ask each question of its server (question -> server), all at once."""
    payload = json.dumps({"probes": [probe(q, server, timeout) for q, server in questions.items()]})
    try:
        done = site.run([*agent, "probe"], payload, timeout=timeout + SLACK)
        results = {r["id"]: r for r in json.loads(done.stdout)["results"]}
    except (ExecTimeout, ValueError, KeyError, TypeError) as error:
        return dict.fromkeys(questions, Answer(f"NO-ANSWER from the agent ({error})"[:200]))
    return {q: answer_of(results.get(str(q), {})) for q in questions}


def reproduce(site: Exec, agent: Sequence[str], question: Question, server: str) -> str:
    return site.command_line([*agent, "probe"], json.dumps(probe(question, server, 2.0)))
