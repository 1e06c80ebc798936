"""The README's "Try it" cannot drift from the service (issue 12): every `curl` against localhost:8000 in its
shell blocks is replayed against the app, with a key holding every role, and must succeed (2xx). Commands that
need an id from an earlier answer ($ID, $REPORT, <...>), a file or an EHR's JWT ($TOKEN: the CDS Hooks calls,
tested in test_cds_hooks.py) are skipped, and counted."""

import json
import re
import shlex
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def commands() -> list[str]:
    blocks = re.findall(r"```sh\n(.*?)```", README.read_text(), flags=re.S)
    found = []
    for block in blocks:
        joined = re.sub(r"\\\n\s*", " ", block)  # continuation lines
        command = ""
        for line in joined.splitlines():
            command = f"{command} {line.strip()}" if command else line.strip()
            if command.count("'") % 2:  # a quoted body that goes on on the next line, as the shell reads it
                continue
            command = re.sub(r"\s+#[^'\"]*$", "", command).strip()  # a trailing comment
            if command.startswith("curl ") and "localhost:8000" in command:
                found.append(command)
            command = ""
    return found


def request_of(command: str, key: str) -> dict | None:
    if any(marker in command for marker in ("$ID", "$REPORT", "$TOKEN", "<", "@")):
        return None
    words = shlex.split(command.replace("$KEY", key).replace("$AUD", key).replace("$REG", key))
    method, headers, data, url = "GET", {}, None, None
    words = iter(words[1:])
    for word in words:
        if word in ("-s", "-si", "-i"):
            continue
        if word == "-X":
            method = next(words)
        elif word == "-H":
            name, _, value = next(words).partition(":")
            headers[name.strip()] = value.strip()
        elif word in ("-d", "--data"):
            data, method = next(words), "POST" if method == "GET" else method
        elif word == "-o":
            next(words)
        elif "localhost:8000" in word:
            url = word.split("localhost:8000", 1)[1]
    return {"method": method, "url": url, "headers": headers, "content": data}


def test_every_runnable_example_of_the_readme_succeeds(client, keys):
    ran, skipped = 0, 0
    assert len(commands()) >= 20
    for command in commands():
        request = request_of(command, keys.everything)
        if request is None:
            skipped += 1
            continue
        if request["content"] is not None:
            json.loads(request["content"])  # the README's JSON is JSON
        answer = client.request(request["method"], request["url"], headers=request["headers"],
                                content=request["content"])
        assert answer.status_code < 300, (command[:160], answer.status_code, answer.text[:300])
        ran += 1
    assert ran >= 15, (ran, skipped)
