"""Publishing a finished run as the reference: what is copied, what is refused, the run facts."""
import pytest

from restorebench.report.reference import publish_reference


def _run(tmp_path):
    results = tmp_path / "results"
    (results).mkdir()
    (results / "README.md").write_text("# Results of this run\n")
    for study in ("s1", "s2", "s3", "s4"):
        (results / study / "tables").mkdir(parents=True)
        (results / study / "figures").mkdir()
        (results / study / "claims.md").write_text(f"# {study}\n")
        (results / study / "verdicts.csv").write_text("claim,verdict\nX,held\n")
        (results / study / "tables" / "t.md").write_text("| a |\n")
        (results / study / "tables" / "t.csv").write_text("a\n1\n")
        (results / study / "figures" / "claims_effects.png").write_bytes(b"\x89PNG")
        (results / study / "figures" / "other.png").write_bytes(b"\x89PNG")
        (results / study / "weights.pt").write_bytes(b"x")
    return results


def test_a_finished_run_is_published_as_text_with_its_summed_wall_time(tmp_path):
    results = _run(tmp_path)
    segments = tmp_path / "segments.tsv"
    segments.write_text("1000 1600\n2000 2300\n")          # killed after 10 minutes, resumed for 5
    out = tmp_path / "docs" / "standard"
    written = publish_reference(results, out, commit="abc123", scale="standard", cores="2", segments=segments)
    names = sorted(str(p.relative_to(out)) for p in written)
    assert "s1/claims.md" in names and "s4/tables/t.csv" in names and "s2/figures/claims_effects.png" in names
    assert not (out / "s1" / "weights.pt").exists() and not (out / "s1" / "figures" / "other.png").exists()
    facts = (out / "RUN_FACTS.md").read_text()
    assert "`abc123`" in facts and "15.0 minutes" in facts and "2 segments" in facts and "--cores 2" in facts


def test_an_unfinished_or_oversized_run_is_refused_and_the_old_reference_kept(tmp_path):
    results = _run(tmp_path)
    out = tmp_path / "ref"
    out.mkdir()
    (out / "keep.md").write_text("old reference")
    (results / "s3" / "verdicts.csv").unlink()
    with pytest.raises(FileNotFoundError, match="s3/verdicts.csv"):
        publish_reference(results, out, commit="c", scale="standard", cores="2")
    (results / "s3" / "verdicts.csv").write_text("claim\n")
    (results / "s3" / "tables" / "huge.csv").write_bytes(b"0" * 2_100_000)
    with pytest.raises(ValueError, match="2 MB"):
        publish_reference(results, out, commit="c", scale="standard", cores="2")
    assert (out / "keep.md").read_text() == "old reference"


def test_the_readme_headline_table_is_rewritten_from_the_published_verdicts(tmp_path):
    import pandas as pd

    from restorebench.report.reference import HEADLINE_BEGIN, HEADLINE_END

    results = _run(tmp_path)
    columns = dict(statement="new beats old", metric="snr", lower=-0.1, upper=0.1, n_detail="8",
                   population="8 clips", units_needed=5.0)
    for study in ("s1", "s2", "s3", "s4"):
        pd.DataFrame([
            {**columns, "claim": f"{study}-H", "verdict": "held", "verdict_reason": "", "cell": "weak",
             "effect": 0.5, "ci_low": 0.2, "ci_high": 0.9},
            {**columns, "claim": f"{study}-H", "verdict": "held", "verdict_reason": "", "cell": "strong",
             "effect": 3.0, "ci_low": 2.0, "ci_high": 4.0},
            {**columns, "claim": f"{study}-C", "verdict": "contradicted",
             "verdict_reason": "significantly the other way", "cell": "worst", "effect": -2.0, "ci_low": -3.0,
             "ci_high": -1.0}]).to_csv(results / study / "verdicts.csv", index=False)
    readme = tmp_path / "README.md"
    readme.write_text(f"# top\n\n{HEADLINE_BEGIN}\nold table\n{HEADLINE_END}\n\nrest\n")
    publish_reference(results, tmp_path / "docs" / "results" / "standard", commit="c", scale="standard",
                      cores="2", readme=readme)
    text = readme.read_text()
    assert "old table" not in text and text.startswith("# top") and text.endswith("rest\n")
    line = next(row for row in text.splitlines() if row.startswith("| [s1-H]"))
    assert "(docs/results/standard/s1/claims.md#s1-h-new-beats-old--held)" in line
    assert "**held** (8 clips)" in line and "weak: 0.5 [0.2, 0.9] snr, n = 8" in line    # the weakest cell
    assert "worst: -2 [-3, -1]" in next(r for r in text.splitlines() if r.startswith("| [s2-C]"))


def test_the_report_landing_page_shows_every_study_verdict_table_and_renders_without_warnings(tmp_path):
    import pandas as pd
    from docutils.core import publish_parts

    from restorebench.report.results_readme import write_report_landing

    columns = dict(metric="snr", lower=-0.1, upper=0.1, n_detail="3 seeds × 8", population="3 seeds × 8 scenes",
                   units_needed=float("nan"), ci_low=-1.0, ci_high=2.0)
    claims, verdicts = [], []
    for study in ("s1", "s2", "s3", "s4"):
        (tmp_path / study).mkdir()
        claims.append(tmp_path / study / "claims.md")
        claims[-1].write_text(f"# {study.upper()} title: which claims held\n")
        verdicts.append(tmp_path / study / "verdicts.csv")
        pd.DataFrame([
            {**columns, "claim": f"{study.upper()}-A", "statement": "|x|_1 is *smaller*", "verdict": "inconclusive",
             "verdict_reason": float("nan"), "cell": "only", "effect": 0.5},
            {**columns, "claim": f"{study.upper()}-B", "statement": "new beats old", "verdict": "contradicted",
             "verdict_reason": "short of the margin", "cell": "worst", "effect": 0.05, "ci_low": 0.01,
             "ci_high": 0.09}]).to_csv(verdicts[-1], index=False)
    prose = tmp_path / "workflow.rst"
    prose.write_text("Made at scale ``{{ scale }}``.\n")
    out = tmp_path / "landing.rst"
    write_report_landing(out, prose, claims, verdicts)
    text = out.read_text()
    assert text.startswith("Made at scale ``{{ scale }}``.") and text.count(".. list-table:: S") == 4
    # halt on any warning: a statement's |, _ and * must not become rST markup
    html = publish_parts(text, writer="html", settings_overrides={"halt_level": 2})["html_body"]
    assert "|x|_1 is *smaller*" in html.replace("&lt;", "<")
    assert html.count("<strong>inconclusive</strong>") == 4
    assert html.count("<strong>contradicted — short of the margin</strong>") == 4
    assert "worst: 0.05 [0.01, 0.09] snr, n = 3 seeds × 8" in html


def test_the_headline_shows_the_floor_flag_and_marks_the_suites_questions(tmp_path):
    import pandas as pd

    from restorebench.report.reference import headline_table
    from restorebench.report.verdicts import FLOOR_DOES_AS_WELL

    columns = dict(statement="new beats old", metric="snr", lower=-0.1, upper=0.1, n_detail="8",
                   population="8 clips", units_needed=5.0, verdict="held", verdict_reason="", cell="c",
                   effect=0.5, ci_low=0.2, ci_high=0.9)
    for study in ("s1", "s2", "s3", "s4"):
        (tmp_path / study).mkdir()
        pd.DataFrame([{**columns, "claim": f"{study}-F", "claim_floor_flag": FLOOR_DOES_AS_WELL, "origin": "paper"},
                      {**columns, "claim": f"{study}-S", "claim_floor_flag": "", "origin": "suite"}]
                     ).to_csv(tmp_path / study / "verdicts.csv", index=False)
    quotes = {"s1-F": {"quote": "ours is best", "where": "Abstract"}, "s1-S": {"quote": "ours is fast", "where": "Fig. 2"}}
    table = headline_table(tmp_path, "ref", quotes)
    floor_row = next(r for r in table.splitlines() if r.startswith("| [s1-F]"))
    assert f"**held — {FLOOR_DOES_AS_WELL}**" in floor_row and "“ours is best”" in floor_row
    suite_row = next(r for r in table.splitlines() if r.startswith("| [s1-S]"))
    assert "*the suite's question, not the paper's claim* — the paper: “ours is fast”" in suite_row


def test_the_headline_can_show_beside_each_published_verdict_what_a_newer_runs_checks_say(tmp_path):
    import pandas as pd

    from restorebench.report.reference import HEADLINE_BEGIN, HEADLINE_END, rewrite_headline
    from restorebench.report.verdicts import FLOOR_DOES_AS_WELL

    columns = dict(statement="s", metric="snr", lower=-0.1, upper=0.1, n_detail="8", population="8 clips",
                   units_needed=5.0, verdict="held", verdict_reason="", cell="c", effect=0.5, ci_low=0.2,
                   ci_high=0.9)
    reference, newer = tmp_path / "ref", tmp_path / "new"
    for study in ("s1", "s2", "s3", "s4"):
        (reference / study).mkdir(parents=True)
        (newer / study).mkdir(parents=True)
        claims = ["A1", "A1†"] if study == "s2" else [f"{study}-X"]
        pd.DataFrame([{**columns, "claim": c} for c in claims]).to_csv(reference / study / "verdicts.csv", index=False)
        now = ["A1", "A1ᶠ"] if study == "s2" else [f"{study}-X"]
        pd.DataFrame([{**columns, "claim": c, "claim_floor_flag": FLOOR_DOES_AS_WELL if c == "A1" else "",
                       "floor_nearest": "wiener", "floor_effect": -1.0, "floor_ci_low": -2.0, "floor_ci_high": 0.5,
                       "floor_delta": 0.1} for c in now]).to_csv(newer / study / "verdicts.csv", index=False)
    readme = tmp_path / "README.md"
    readme.write_text(f"# top\n\n{HEADLINE_BEGIN}\nold\n{HEADLINE_END}\n")
    assert rewrite_headline(readme, reference, newer, "quick at abc", note="Made before the checks.")
    text = readme.read_text()
    assert "Made before the checks." in text and "| quick at abc: verdict, floors and training checks |" in text
    # the old A1 (final iterate) is now A1ᶠ; the old A1† (oracle-stopped) is now A1, the paper's protocol
    old_a1 = next(r for r in text.splitlines() if r.startswith("| [A1]"))
    old_dagger = next(r for r in text.splitlines() if r.startswith("| [A1†]"))
    assert "(now A1ᶠ) **held**; nearest floor wiener: -1 [-2, 0.5] snr" in old_a1
    assert f"(now A1) **held — {FLOOR_DOES_AS_WELL}**" in old_dagger


def test_the_published_readme_links_only_what_the_reference_carries(tmp_path):
    results = _run(tmp_path)
    (results / "README.md").write_text("# Results\n\n- [s1/claims.md](s1/claims.md)\n"
                                        "- [s1/figures/other.png](s1/figures/other.png)\n- [site](https://x.org)\n")
    out = tmp_path / "ref"
    publish_reference(results, out, commit="c", scale="standard", cores="2")
    text = (out / "README.md").read_text()
    assert "[s1/claims.md](s1/claims.md)" in text and "[site](https://x.org)" in text
    assert "s1/figures/other.png (in the run's results, not published)" in text and "](s1/figures/other.png)" not in text
