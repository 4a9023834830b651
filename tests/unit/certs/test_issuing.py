from webhooks.certs import issuing


def test_issued_by_says_which_ca_signed_a_certificate() -> None:
    ca = issuing.create_ca("a CA")
    leaf = issuing.issue_serving_cert(ca, ["svc.ns.svc"])
    namesake = issuing.create_ca("a CA")  # same subject, another key: a bad signature
    stranger = issuing.create_ca("another CA")  # another issuer name
    assert issuing.issued_by(leaf.cert, ca.cert)
    assert not issuing.issued_by(leaf.cert, namesake.cert)
    assert not issuing.issued_by(leaf.cert, stranger.cert)
