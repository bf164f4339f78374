#!/usr/bin/env python3
"""Drives `consentgate office` in headless Chromium as a privacy officer would (Tests/PipelineTests/OfficeBrowserTests).

  office-browser-test.py record ADDRESS --id ID --subject REF --form FILE [--shots DIR]
  office-browser-test.py revoke ADDRESS --id ID --subject REF --letter FILE [--shots DIR]

`record` opens the printed address, checks the group picture's card says "1 of 2 consented", records the second
person's authorization with the signed form's file, checks the record is shown before signing, signs it and checks
the app says the next run publishes the picture. `revoke` finds the record by the subject reference, revokes it with
the letter's file and checks the app says the next run retracts. Exit status 0, or 1 with what was wrong.
"""
import argparse
import sys
import time

from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait


def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1100,1300"]:
        options.add_argument(argument)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def text(driver):
    # A page that is being replaced can drop its body between finding it and reading it (Chromium says "stale
    # element" or "node does not belong to the document"): read the new one.
    for _ in range(50):
        try:
            return driver.find_element(By.TAG_NAME, "body").text
        except WebDriverException:
            time.sleep(0.2)
    return driver.find_element(By.TAG_NAME, "body").text


def click(driver, by, value):
    """Clicks a link or a form's button and waits until the next page has replaced this one (a click returns as
    soon as the browser has the event, and on a loaded machine the old page can still be read after it). Finding
    the element is tried again while the page it is on is still being replaced."""
    for attempt in range(5):
        try:
            body = driver.find_element(By.TAG_NAME, "body")
            driver.find_element(by, value).click()
            break
        except WebDriverException:
            if attempt == 4:
                raise
            time.sleep(0.5)

    def replaced(_):
        try:
            body.is_enabled()
            return False
        except WebDriverException:  # stale, or "does not belong to the document": the old page is gone
            return True

    def loaded(_):
        try:
            return driver.execute_script("return document.readyState") == "complete"
        except WebDriverException:
            return False

    WebDriverWait(driver, 60).until(replaced)
    WebDriverWait(driver, 60).until(loaded)


def expect(condition, what, driver):
    if not condition:
        raise AssertionError(what + "\n--- page ---\n" + text(driver))


def shot(driver, args, name):
    if args.shots:
        driver.save_screenshot(f"{args.shots}/{name}")


def fill(driver, name, value):
    field = driver.find_element(By.NAME, name)
    # Date fields take their value directly (typing into them depends on the browser's locale).
    driver.execute_script("arguments[0].value = arguments[1]", field, value)


def record(driver, args):
    driver.get(args.address)
    expect("token=" not in driver.current_url, "the token should leave the address bar", driver)
    expect("1 of 2 consented" in text(driver), "the group picture's card says 1 of 2 consented", driver)
    expect("Missing: one more person" in text(driver), "the card says one person is missing", driver)
    shot(driver, args, "office-cards.png")
    click(driver, By.LINK_TEXT, "Record an authorization")
    fill(driver, "id", args.id)
    fill(driver, "subject", args.subject)
    fill(driver, "expires", "2036-01-01")
    fill(driver, "effective", "2026-01-01")
    fill(driver, "signed_on", "2026-01-01")
    driver.find_element(By.NAME, "form").send_keys(args.form)
    shot(driver, args, "office-authorize.png")
    click(driver, By.CSS_SELECTOR, "form[action='/authorize'] button")
    expect("Before signing" in text(driver), "the record is shown before signing", driver)
    record_text = driver.find_element(By.CSS_SELECTOR, "pre.record").text
    expect(f'"id": "{args.id}"' in record_text and f'"subject": "{args.subject}"' in record_text,
           "the shown record is the one filled in", driver)
    expect("2 of 2 consented: the next run publishes" in text(driver), "the forecast says it will be published", driver)
    shot(driver, args, "office-confirm.png")
    click(driver, By.ID, "sign")
    expect("Recorded" in text(driver) and "The next run publishes the picture" in text(driver),
           "the app says the next run publishes it", driver)
    shot(driver, args, "office-recorded.png")


def revoke(driver, args):
    driver.get(args.address)
    driver.get(args.address.split("/?token=")[0] + "/records?q=" + args.subject)
    expect(args.id in text(driver), "the record is found by its subject reference", driver)
    shot(driver, args, "office-records.png")
    click(driver, By.LINK_TEXT, "Revoke")
    driver.find_element(By.NAME, "letter").send_keys(args.letter)
    click(driver, By.CSS_SELECTOR, "form[action='/revoke'] button")
    expect("Before signing" in text(driver) and "The next run retracts every picture published under " + args.id
           in text(driver), "the revocation is shown before signing, with what the next run does", driver)
    click(driver, By.ID, "sign")
    expect("Recorded" in text(driver) and "The next run retracts" in text(driver), "the revocation is recorded", driver)
    shot(driver, args, "office-revoked.png")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("step", choices=["record", "revoke"])
    parser.add_argument("address")
    parser.add_argument("--id", required=True)
    parser.add_argument("--subject", required=True)
    parser.add_argument("--form")
    parser.add_argument("--letter")
    parser.add_argument("--shots")
    args = parser.parse_args()
    driver = browser()
    try:
        (record if args.step == "record" else revoke)(driver, args)
    except AssertionError as error:
        print(f"office browser test ({args.step}): {error}", file=sys.stderr)
        return 1
    finally:
        driver.quit()
    print(f"office browser test ({args.step}): ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
