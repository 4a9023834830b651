import json

from webhooks.admission import jsontext


def test_compact_json_matches_json_dumps_and_falls_back_for_huge_integers() -> None:
    value = {"b": [1, 2.5, None, True], "a": {"x": 'é/"q"'}}
    assert json.loads(jsontext.compact(value)) == value
    assert jsontext.compact({"k": [1, "v"]}) == json.dumps({"k": [1, "v"]}, separators=(",", ":"))
    assert jsontext.compact({"port": 2**70}) == f'{{"port":{2**70}}}'
