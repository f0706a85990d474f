"""DNS questions asked through the agent, wherever it runs (a pod, a lab namespace, a
container): every question in one agent call, each answer as the DNS checker reads it."""

from __future__ import annotations

import json
from collections.abc import Sequence

import dns.exception
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype

from netconform.checks.dns import TIMEOUT, Answer, Question, answer_of
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


def ask_directly(questions: dict[Question, str], timeout: float = 2.0) -> dict[Question, Answer]:
    """Ask from this machine with dnspython (the outside vantage point next to kind), each
    question of its server's address."""
    answers = {}
    for question, server in questions.items():
        query = dns.message.make_query(question.name, question.type)
        try:
            reply = dns.query.udp(query, server, timeout=timeout)
        except dns.exception.Timeout:
            answers[question] = Answer(TIMEOUT)
            continue
        except OSError as error:
            answers[question] = Answer(f"UNREACHABLE ({error.strerror})")
            continue
        wanted = dns.rdatatype.from_text(question.type)
        addresses = {r.address for rrset in reply.answer if rrset.rdtype == wanted for r in rrset}
        answers[question] = Answer(dns.rcode.to_text(reply.rcode()), frozenset(addresses))
    return answers
