"""The report in a real headless Chromium (Debian's chromium + chromium-driver, installed by
`make browser`), driven by Selenium through the system driver, so nothing is downloaded: the
page loads without console errors, the plots are drawn, hovering a front point shows its
trial, and the front table sorts."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from decision_studies import benchmark_studies

from hwnas.report.html import write_report
from hwnas.study import Study

CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROMIUM = Path("/usr/bin/chromium")

pytestmark = pytest.mark.skipif(
    not (CHROMEDRIVER.exists() and CHROMIUM.exists()),
    reason="needs Debian's chromium and chromium-driver: run `make browser`")


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    folder = tmp_path_factory.mktemp("browser")
    linas, random = benchmark_studies(folder)
    return write_report([linas, random], folder / "report.html"), Study.load(linas)


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    profile = tmp_path_factory.mktemp("chromium-profile")
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                 "--window-size=1280,1000", f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    browser = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    browser.set_page_load_timeout(120)
    yield browser
    browser.quit()
    shutil.rmtree(profile, ignore_errors=True)


def _wait(driver, condition, timeout: float = 60.0):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.2).until(condition)


def test_report_loads_draws_and_hovers(report, driver):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    path, study = report
    driver.get(path.resolve().as_uri())
    _wait(driver, lambda d: d.execute_script("return document.readyState") == "complete")
    _wait(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR,
                                                "#front-0 .scatterlayer .point")) > 0)
    errors = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == [], errors
    drawn = driver.execute_script(
        "return Array.from(document.querySelectorAll('.js-plotly-plot')).map(d => d.id)")
    assert {"front-0", "hypervolume", "predictors"} <= set(drawn)
    assert driver.find_elements(By.CSS_SELECTOR, "#hypervolume .scatterlayer path.js-line")

    # hover the front's first point (trace 1 is the first study's front): its trial shows
    front = sorted(study.pareto_front(["accuracy", "latency"]),
                   key=lambda r: r.metrics["latency"])
    driver.execute_script("document.getElementById('front-0').scrollIntoView()")
    traces = driver.find_elements(By.CSS_SELECTOR, "#front-0 .scatterlayer .trace")
    point = traces[1].find_elements(By.CSS_SELECTOR, ".points path.point")[0]
    ActionChains(driver).move_to_element(point).pause(0.3).perform()
    hover = _wait(driver, lambda d: d.find_element(By.CSS_SELECTOR, "#front-0 .hoverlayer")
                  .text or None)
    assert f"trial {front[0].number}" in hover, hover
    assert "latency" in hover and "IQR" in hover


def test_front_table_sorts_on_click(report, driver):
    from selenium.webdriver.common.by import By

    path, _ = report
    driver.get(path.resolve().as_uri())
    _wait(driver, lambda d: d.execute_script("return document.readyState") == "complete")
    tables = driver.find_elements(By.CSS_SELECTOR, "table.sortable")
    table = tables[-1]  # the whole front
    header = [h for h in table.find_elements(By.CSS_SELECTOR, "th")
              if h.text.startswith("latency")][0]
    column = table.find_elements(By.CSS_SELECTOR, "th").index(header)

    def values():
        return driver.execute_script(
            "return Array.from(arguments[0].tBodies[0].rows)"
            ".map(r => parseFloat(r.cells[arguments[1]].dataset.value))", table, column)

    driver.execute_script("arguments[0].click()", header)
    assert values() == sorted(values())
    driver.execute_script("arguments[0].click()", header)
    assert values() == sorted(values(), reverse=True)
