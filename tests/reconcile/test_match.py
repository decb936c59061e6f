"""Matching passes: exact ID, member roster; one HA record to at most one PS household."""
from tests.reconcile.builders import ID_A, ID_B, ID_C, ha, member, ps, run


def test_exact_id_after_normalization():
    t = run([ps()], [ha(householder_id="'" + ID_A.lower() + " ")])
    assert t.matches[["household_no", "archive_no", "method"]].values.tolist() == [["H1", "A1", "id_exact"]]
    assert t.matches["agreement"][0] == "id,name,village,size"


def test_conflicting_candidates_resolved_by_agreement_not_input_order():
    # Two PS households carry the same ID (a PS duplicate); the HA record agrees with H2 on name and size.
    for order in ([0, 1], [1, 0]):
        rows = [ps(household_no="H1", householder_name="王五", household_size="5"),
                ps(household_no="H2")]
        t = run([rows[i] for i in order], [ha()])
        assert t.matches["household_no"].tolist() == ["H2"]


def test_one_ha_record_matches_at_most_one_household():
    t = run([ps(household_no="H1"), ps(household_no="H2")], [ha()])
    assert t.matches["archive_no"].is_unique and len(t.matches) == 1


def test_member_pass_finds_changed_householder_and_never_the_householder_row():
    members = [member(), member(name="李梅", id_no=ID_B, relation="配偶")]
    t = run([ps()], [ha(householder_name="李梅", householder_id=ID_B)], members)
    assert t.matches["method"].tolist() == ["member_id"]
    assert t.matches["member_name"].tolist() == ["李梅"]


def test_exact_id_wins_over_member_pass():
    # The HA householder is householder of H2 and a member of H1: the exact pass decides.
    members = [member(), member(household_no="H1", name="李梅", id_no=ID_B, relation="配偶"),
               member(household_no="H2", name="李梅", id_no=ID_B, relation="户主")]
    t = run([ps(), ps(household_no="H2", householder_name="李梅", householder_id=ID_B)],
            [ha(archive_no="A9", householder_name="李梅", householder_id=ID_B)], members)
    assert t.matches[["household_no", "method"]].values.tolist() == [["H2", "id_exact"]]


def test_invalid_ids_are_never_joined_by_the_exact_pass():
    bad = ID_C[:-1] + ("0" if ID_C[-1] != "0" else "1")
    same_name = run([ps(householder_id=bad)], [ha(householder_id=bad)])
    assert same_name.matches["method"].tolist() == ["id_near"]  # same typo in both, same name, same county
    other_name = run([ps(householder_id=bad)], [ha(householder_id=bad, householder_name="李四")])
    assert other_name.matches.empty
