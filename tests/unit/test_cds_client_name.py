"""The client a CDS Hooks call is recorded under fits the audit trail's column (128), and stays one per issuer and
tenant however long their names (infra.cds_auth.client_name)."""

from infra.cds_auth import CLIENT_MAX, client_name


def test_short_names_read_as_they_are_and_long_ones_stay_distinct_within_the_column():
    assert client_name("https://ehr.example.fr/", "chu") == "cds:https://ehr.example.fr/#chu"
    assert client_name("https://ehr.example.fr/", None) == "cds:https://ehr.example.fr/"
    long = "https://" + "very-long-subdomain." * 10 + "example.fr/"
    names = {client_name(long, tenant) for tenant in ("a", "b", None)} | {client_name(long + "x", "a")}
    assert len(names) == 4 and all(len(n) == CLIENT_MAX and n.startswith("cds:https://very-long") for n in names)
