"""DNS questions asked through netprobe, wherever it runs (a pod, a lab namespace, a
container): every question in one netprobe call, each answer as the DNS checker reads it."""

from __future__ import annotations

import dns.exception
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype

from netconform.checks.dns import TIMEOUT, Answer, Question, answer_of
from netconform.probe_client import NetprobeUnanswered, ProbeSite
from netconform.timeouts import DEFAULT


def probe(question: Question, server: str, timeout: float) -> dict[str, object]:
    """The netprobe probe asking `server` (address, port 53 unless given) this question."""
    return {
        "id": str(question),
        "dns": question.name,
        "type": question.type,
        "server": server,
        "timeout": timeout,
    }


def ask(
    site: ProbeSite, questions: dict[Question, str], timeout: float = 2.0
) -> dict[Question, Answer]:
    """Ask each question of its server (question -> server), all at once."""
    probes = [probe(q, server, timeout) for q, server in questions.items()]
    try:
        results = site.probe(probes, timeout + DEFAULT.exec_slack)
    except NetprobeUnanswered as error:
        return dict.fromkeys(questions, Answer(f"NO-ANSWER from netprobe ({error})"[:200]))
    return {q: answer_of(result) for q, result in zip(questions, results, strict=True)}


def reproduce(site: ProbeSite, question: Question, server: str) -> str:
    return site.command_line(probe(question, server, 2.0))


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
