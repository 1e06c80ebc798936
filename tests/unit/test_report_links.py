"""The signed links of CDS cards to their PDF report (infra.report_links): only this service's key makes one, every
part of the grant is under the signature, and time ends it."""

import pytest

from infra import report_links

KEY = b"p" * 40


def test_a_link_carries_its_grant_and_nothing_else_opens():
    token = report_links.grant_for(KEY, audit_id="a" * 36, client="cds:ehr", language="fr", ttl_s=60, now=1000)
    assert report_links.verify(KEY, token, now=1059) == report_links.Grant("a" * 36, "cds:ehr", "fr", 1060)
    with pytest.raises(report_links.LinkRefused) as late:
        report_links.verify(KEY, token, now=1061)
    assert late.value.expired
    body, mac = token.split(".")
    for bad in (token.replace(".", ""), f"{body}.{mac[::-1]}", f"{body[:-2]}xx.{mac}", "", "a.b.c"):
        with pytest.raises(report_links.LinkRefused) as refused:
            report_links.verify(KEY, bad, now=1000)
        assert not refused.value.expired
    with pytest.raises(report_links.LinkRefused):  # another installation's key
        report_links.verify(b"q" * 40, token, now=1000)
