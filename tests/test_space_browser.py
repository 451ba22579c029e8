"""The demo in a real browser: Debian's chromium driven by Playwright loads the page, clicks an example, tags it,
and the highlighted text, legend and entity table agree with the tagging API. A screenshot of the result is saved
to test-artifacts/space.png for a person to look at."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from space_fixtures import app, chem_dir, demo_url  # noqa: E402,F401

from bioalbert.inference import Tagger  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Debian's chromium is not installed (apt-get install chromium; .ci/run installs it)"
)


@pytest.fixture(scope="module")
def page(demo_url):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(  # never Playwright's own browser download: Debian's chromium
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.set_default_timeout(120_000)
        page.goto(demo_url, wait_until="networkidle")
        yield page
        browser.close()


def test_example_is_tagged_and_highlighted_in_the_browser(page, ner_dir, chem_dir):
    from playwright.sync_api import expect

    # Click the example with most mentions (so that there is something to highlight). Both models are chosen by
    # default; the 'chemical' one has the same weights, so every tie goes to the disease model, listed first.
    tagger = Tagger([str(ner_dir), str(chem_dir)])
    found = [tagger.tag([example])[0] for example in app.EXAMPLES]
    best = max(range(len(found)), key=lambda i: len(found[i]))
    assert found[best], "the micro model finds no mention in any example"
    page.locator("#input-text textarea").fill("")  # the first example is also the prefilled text
    page.locator("button.gallery-item").nth(best).click()
    expect(page.locator("#input-text textarea")).to_have_value(app.EXAMPLES[best])
    page.locator("#tag-button").click()  # with the default choice: both models, merged
    page.wait_for_function("document.querySelector('#note')?.innerText.includes('entities in')")

    highlighted = page.locator("#highlighted .token.highlighted .text").all_inner_texts()
    assert highlighted == [entity.text for entity in found[best]]
    assert "".join(page.locator("#highlighted .token .text").all_inner_texts()) == app.EXAMPLES[best]
    legend = page.locator("#highlighted .legend-item").all_inner_texts()
    assert sorted(legend) == ["Chemical", "Disease"], legend  # one colour per type the chosen models tag
    rows = page.locator("#entity-table [role=row]").evaluate_all("rows => rows.map(row => row.innerText)")
    cells = [[cell.strip() for cell in row.split("\n") if cell.strip()] for row in rows[1:]]  # after the header
    assert cells == [[e.text, e.label, str(e.start), str(e.end), str(e.score), "micro-ncbi"] for e in found[best]]
    assert page.locator("#downloads").get_by_text(".json").count() and page.locator("#downloads").get_by_text(".csv").count()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "space.png"), full_page=True)


def test_empty_input_shows_a_message_not_a_stack_trace(page):
    page.locator("#input-text textarea").fill("   ")
    page.locator("#tag-button").click()
    page.wait_for_function("document.querySelector('#note')?.innerText.includes('empty')")
    body = page.locator("body").inner_text()
    assert "The text box is empty" in body and "Traceback" not in body
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "space-empty-input.png"), full_page=True)
