"""The access matrix's judge sees what it must: each kind of leak, fabricated, is reported (so
a green matrix means the routes behaved, not that the judge looked away)."""

from __future__ import annotations

from tests.security.matrix import Actor, Answer, Request, digests_of, judge
from tests.security.routes import Route

DETAIL = Route("GET /api/v1/generations/{generation_id}", "api", "GET", "/x/{id}", ("id",))
LIST = Route("GET /api/v1/generations", "api", "GET", "/x", ())
PAGE = Route("generations:detail GET", "page", "GET", "/g/{id}/", ("id",))


def verdicts(world, actor_name: str, route: Route, answer: Answer, level: str = "read"):
    actor = Actor(actor_name, user=None if actor_name == "anonymous" else world.viewer.user)
    found = judge(actor, route, level, Request(), answer, world, digests_of(world), set())
    return [(f.kind, f.detail) for f in found]


def test_another_teams_object_served_is_a_leak(world):
    assert verdicts(world, "outsider", DETAIL, Answer(200, b"{}"))[0][0] == "leak"


def test_a_403_for_another_teams_object_is_a_leak(world):
    kind, detail = verdicts(world, "outsider", DETAIL, Answer(403))[0]
    assert (kind, detail) == ("leak", "403 confirms that team A's object exists")


def test_team_data_in_a_list_is_a_leak(world):
    body = f'{{"items": [{{"prompt": "{world.canaries[1]}"}}]}}'.encode()
    assert verdicts(world, "outsider", LIST, Answer(200, body))[0][0] == "leak"


def test_team_file_in_any_answer_is_a_leak(world):
    with world.image.file.open("rb") as handle:
        content = handle.read()
    assert verdicts(world, "anonymous", DETAIL, Answer(200, content))[0][0] == "leak"


def test_a_secret_in_an_answer_is_reported_for_anyone(world):
    body = f"<input value='{world.secrets.runpod_api_key}'>".encode()
    assert [kind for kind, _ in verdicts(world, "owner", PAGE, Answer(200, body))] == ["secret"]


def test_a_refused_write_that_changed_rows_is_a_leak(world):
    answer = Answer(403, changed=["generations.Generation"])
    assert verdicts(world, "viewer", DETAIL, answer, level="write")[0][0] == "leak"


def test_anonymous_page_without_the_sign_in_redirect_is_reported(world):
    assert verdicts(world, "anonymous", PAGE, Answer(200, b"<html>"))[0][0] == "leak"
    redirect = Answer(302, headers={"Location": "/accounts/sign-in/?next=/g/1/"})
    assert verdicts(world, "anonymous", PAGE, redirect) == []


def test_a_viewer_refused_a_read_is_reported(world):
    assert verdicts(world, "viewer", DETAIL, Answer(403))[0][0] == "wrong"
