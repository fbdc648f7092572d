"""Curation services: stars, tags and bulk delete, who may do what, and never across teams."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from dashboard.accounts.models import Role
from dashboard.errors import Conflict
from dashboard.generations.models import GeneratedImage, Generation, Status, Tag
from dashboard.generations.services import (
    generation_delete,
    generations_add_tags,
    generations_delete,
    generations_remove_tag,
    generations_set_starred,
)
from tests.dashboard.factories import (
    make_generation,
    make_member,
    make_stored_generation,
    png_bytes,
)


def tag_names(generation: Generation) -> list[str]:
    return sorted(tag.name for tag in generation.tags.all())


# --- stars ---------------------------------------------------------------------------------------
def test_members_star_and_unstar_any_generation_of_their_team(member, owner, endpoint):
    generations = [make_generation(owner, endpoint), make_generation(member, endpoint)]
    assert generations_set_starred(generations=generations, user=member.user, starred=True) == 2
    assert Generation.objects.filter(starred=True).count() == 2
    generations_set_starred(generations=generations[:1], user=member.user, starred=False)
    assert list(Generation.objects.filter(starred=True)) == generations[1:]


def test_viewers_cannot_star(viewer, member, endpoint):
    generation = make_generation(member, endpoint)
    with pytest.raises(PermissionDenied):
        generations_set_starred(generations=[generation], user=viewer.user, starred=True)
    generation.refresh_from_db()
    assert not generation.starred


def test_another_teams_generations_do_not_exist_for_the_curator(
    member, endpoint, rival, rival_endpoint
):
    theirs = make_generation(rival, rival_endpoint)
    ours = make_generation(member, endpoint)
    for generations in ([theirs], [ours, theirs]):
        with pytest.raises(Generation.DoesNotExist):
            generations_set_starred(generations=generations, user=member.user, starred=True)
        with pytest.raises(Generation.DoesNotExist):
            generations_add_tags(generations=generations, names=["x"], user=member.user)
        with pytest.raises(Generation.DoesNotExist):
            generations_remove_tag(generations=generations, name="x", user=member.user)
        with pytest.raises(Generation.DoesNotExist):
            generations_delete(generations=generations, user=member.user)
    assert not Generation.objects.filter(starred=True).exists()
    assert not Tag.objects.exists()
    assert Generation.objects.count() == 2


def test_a_user_in_both_teams_still_acts_on_one_team_at_a_time(
    member, endpoint, rival, rival_endpoint
):
    make_member(rival.team, Role.OWNER, user=member.user)
    mixed = [make_generation(member, endpoint), make_generation(rival, rival_endpoint)]
    with pytest.raises(Generation.DoesNotExist):
        generations_set_starred(generations=mixed, user=member.user, starred=True)
    assert not Generation.objects.filter(starred=True).exists()


def test_nothing_selected_changes_nothing(member):
    assert generations_set_starred(generations=[], user=member.user, starred=True) == 0
    assert generations_delete(generations=[], user=member.user) == 0


# --- tags ----------------------------------------------------------------------------------------
def test_tagging_creates_missing_team_tags_and_reuses_existing_ones(member, owner, endpoint):
    existing = Tag.objects.create(team=member.team, name="Keeper")
    generations = [make_generation(owner, endpoint), make_generation(member, endpoint)]
    tags = generations_add_tags(
        generations=generations, names=["keeper", " client  X ", "CLIENT x"], user=member.user
    )
    assert [tag.name for tag in tags] == ["Keeper", "client X"]
    assert tags[0] == existing
    assert Tag.objects.filter(team=member.team).count() == 2
    assert all(tag_names(g) == ["Keeper", "client X"] for g in generations)


def test_tagging_twice_is_harmless(member, endpoint):
    generation = make_generation(member, endpoint)
    for _ in range(2):
        generations_add_tags(generations=[generation], names=["wip"], user=member.user)
    assert tag_names(generation) == ["wip"]
    assert Tag.objects.count() == 1


def test_tags_belong_to_one_team(member, endpoint, rival):
    Tag.objects.create(team=rival.team, name="keeper")
    generation = make_generation(member, endpoint)
    [tag] = generations_add_tags(generations=[generation], names=["keeper"], user=member.user)
    assert tag.team == member.team
    assert Tag.objects.filter(name="keeper").count() == 2


@pytest.mark.parametrize(
    "names",
    [
        ["<script>alert(1)</script>"],
        ['say "hi"'],
        ["a&b"],
        ["x" * 41],
        [""],
        ["   "],
        ["fine", "<b>"],
        [],
        ["t"] * 21,
        "keeper",
        [7],
    ],
)
def test_bad_tag_names_are_refused_and_nothing_changes(member, endpoint, names):
    generation = make_generation(member, endpoint)
    with pytest.raises(ValidationError) as raised:
        generations_add_tags(generations=[generation], names=names, user=member.user)
    assert "tags" in raised.value.message_dict
    assert not Tag.objects.exists()
    assert tag_names(generation) == []


def test_tag_names_of_any_script_are_fine(member, endpoint):
    generation = make_generation(member, endpoint)
    generations_add_tags(
        generations=[generation], names=["Ölgemälde v2.1_final-ok"], user=member.user
    )
    assert tag_names(generation) == ["Ölgemälde v2.1_final-ok"]


def test_viewers_cannot_tag(viewer, member, endpoint):
    generation = make_generation(member, endpoint)
    with pytest.raises(PermissionDenied):
        generations_add_tags(generations=[generation], names=["keeper"], user=viewer.user)
    assert not Tag.objects.exists()


def test_removing_a_tag_ignores_case_and_touches_only_those_generations(member, endpoint):
    untagged, kept = make_generation(member, endpoint), make_generation(member, endpoint)
    generations_add_tags(generations=[untagged, kept], names=["Keeper", "wip"], user=member.user)
    removed = generations_remove_tag(generations=[untagged], name="KEEPER", user=member.user)
    assert removed == 1
    assert tag_names(untagged) == ["wip"]
    assert tag_names(kept) == ["Keeper", "wip"]
    assert generations_remove_tag(generations=[untagged], name="unknown", user=member.user) == 0


def test_viewers_cannot_untag(viewer, member, endpoint):
    generation = make_generation(member, endpoint)
    generations_add_tags(generations=[generation], names=["keeper"], user=member.user)
    with pytest.raises(PermissionDenied):
        generations_remove_tag(generations=[generation], name="keeper", user=viewer.user)
    assert tag_names(generation) == ["keeper"]


# --- delete --------------------------------------------------------------------------------------
def _stored_files(generation: Generation) -> list[tuple]:
    return [
        (field.storage, field.name)
        for image in generation.images.all()
        for field in (image.file, image.thumbnail)
    ]


def test_deleting_removes_rows_and_every_stored_file(member, endpoint):
    doomed = [
        make_stored_generation(member, endpoint),
        make_stored_generation(member, endpoint, png_bytes(), png_bytes(color=(0, 0, 9))),
    ]
    kept = make_stored_generation(member, endpoint)
    files = [f for g in doomed for f in _stored_files(g)]
    assert len(files) == 6
    assert all(storage.exists(name) for storage, name in files)

    assert generations_delete(generations=doomed, user=member.user) == 2

    assert list(Generation.objects.all()) == [kept]
    assert GeneratedImage.objects.count() == 1
    assert not any(storage.exists(name) for storage, name in files)
    assert all(storage.exists(name) for storage, name in _stored_files(kept))


def test_members_delete_only_their_own_admins_delete_any(member, owner, endpoint):
    admin = make_member(member.team, Role.ADMIN)
    own = make_generation(member, endpoint, status=Status.FAILED)
    others = make_generation(owner, endpoint, status=Status.CANCELLED)
    with pytest.raises(PermissionDenied):
        generations_delete(generations=[own, others], user=member.user)
    assert Generation.objects.count() == 2  # checked every one before deleting any
    assert generations_delete(generations=[own], user=member.user) == 1
    assert generations_delete(generations=[others], user=admin.user) == 1
    assert not Generation.objects.exists()


def test_viewers_cannot_delete(viewer, endpoint):
    generation = make_generation(viewer, endpoint)  # even one they once made
    with pytest.raises(PermissionDenied):
        generations_delete(generations=[generation], user=viewer.user)
    assert Generation.objects.filter(pk=generation.pk).exists()


def test_a_running_generation_stops_the_whole_delete(member, endpoint):
    done = make_stored_generation(member, endpoint)
    running = make_generation(member, endpoint, status=Status.RUNNING)
    with pytest.raises(Conflict) as raised:
        generations_delete(generations=[done, running], user=member.user)
    assert "cancel" in raised.value.detail
    assert Generation.objects.count() == 2
    assert all(storage.exists(name) for storage, name in _stored_files(done))


def test_single_delete_follows_the_same_rules(member, owner, endpoint):
    others = make_generation(owner, endpoint, status=Status.SUCCEEDED)
    with pytest.raises(PermissionDenied):
        generation_delete(generation=others, user=member.user)
    running = make_generation(member, endpoint, status=Status.SUBMITTED)
    with pytest.raises(Conflict):
        generation_delete(generation=running, user=member.user)
    assert Generation.objects.count() == 2
