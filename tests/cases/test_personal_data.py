"""The privacy guard: a public reply with personal data is refused, saying what was
found; the same text goes privately."""

import pytest

from cases import services
from cases.models import Reply
from cases.personal_data import MAX_CHECKED_CHARS, find_personal_data
from cases.services import CaseError
from tests.factories import CaseFactory

SURVEY = "https://webcare.example.com/s/" + "Ab3_-" * 8 + "xyz/"


def kinds(text):
    return [str(finding.kind) for finding in find_personal_data(text)]


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("Je rekening NL91 ABNA 0417 1643 00 is geblokkeerd", ["an IBAN"]),
        ("NL91ABNA0417164300.", ["an IBAN"]),
        ("IBAN: de44500105175407324931", ["an IBAN"]),
        (
            "BSN 111222333 klopt",
            ["a citizen service number (BSN) or bank account number"],
        ),
        ("BSN 111.222.333", ["a citizen service number (BSN) or bank account number"]),
        ("pas 4111 1111 1111 1111 geblokkeerd", ["a card number"]),
        ("kaart 5500-0000-0000-0004", ["a card number"]),
        ("bel me op 06-12345678", ["a phone number"]),
        ("Bel 020 123 4567 even", ["a phone number"]),
        ("reach me on +44 20 7946 0958", ["a phone number"]),
        ("mail jan.jansen+bank@gmail.com", ["an e-mail address"]),
        (f"vul {SURVEY} in", ["a personal survey link"]),
        (
            "NL91ABNA0417164300 en 06-12345678",
            ["an IBAN", "a phone number"],
        ),
    ],
)
def test_it_finds_personal_data(text, found):
    assert kinds(text) == found


@pytest.mark.parametrize(
    "text",
    [
        "NL91\u00a0ABNA\u00a00417\u00a01643\u00a000",  # no-break spaces, as apps copy
        "NL91\u202fABNA\u202f0417\u202f1643\u202f00",
        "NL91\nABNA 0417\t1643 00",
        "NL91-ABNA-0417-1643-00",
        "NL91.ABNA.0417.1643.00",
        "NL91  ABNA  0417  1643  00",
        "NL91\u200bABNA0417164300",  # a zero-width space
        "ＮＬ９１ＡＢＮＡ０４１７１６４３００",  # full-width
        "xNL91ABNA0417164300",
        "_NL91ABNA0417164300",
    ],
)
def test_formatting_hides_no_iban(text):
    assert kinds(text) == ["an IBAN"]


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("4111  1111  1111  1111", "a card number"),
        ("4111/1111/1111/1111", "a card number"),
        ("４１１１ １１１１ １１１１ １１１１", "a card number"),
        ("111/222/333", "a citizen service number (BSN) or bank account number"),
        ("111\u200b222333", "a citizen service number (BSN) or bank account number"),
        ("jan\u200b@gmail.com", "an e-mail address"),
        ("jan＠gmail.com", "an e-mail address"),
    ],
)
def test_formatting_hides_no_number_or_address(text, found):
    assert kinds(text) == [found]


def test_a_public_reply_too_long_to_check_is_refused():
    from cases.personal_data import public_reply_refusal

    text = "x" * MAX_CHECKED_CHARS + " NL91ABNA0417164300"
    assert "is not checked for personal data" in public_reply_refusal(text)


@pytest.mark.parametrize(
    "text",
    [
        "Hoi Jan, we kijken ernaar. Groet, Anna",
        # Check digits decide: one digit off is no IBAN, BSN or card number.
        "NL91 ABNA 0417 1643 01",
        "Bestelnummer 111222334 is verzonden",
        "pas 4111 1111 1111 1112",
        # Dates, times, amounts and case numbers are not phone numbers.
        "Op 01-12-2026 om 14:00 is € 1.250,00 teruggeboekt (zaak #123456)",
        # Business lines are never a customer's.
        "Bel gratis 0800-1234 of 0900 0024",
        "Kijk op https://www.example.com/s/kort/ voor de storing",
    ],
)
def test_it_leaves_ordinary_text_alone(text):
    assert kinds(text) == []


def test_the_companys_own_numbers_and_domains_are_not_personal(settings):
    text = "Mail webcare@bank.example of bel 020 123 4567"
    assert kinds(text) == ["a phone number", "an e-mail address"]
    settings.WEBCARE_OWN_PHONE_NUMBERS = ["+31201234567"]
    settings.WEBCARE_OWN_EMAIL_DOMAINS = ["bank.example"]
    assert kinds(text) == []
    # A subdomain is the company's; a look-alike is not.
    assert kinds("x@service.bank.example") == []
    assert kinds("x@evilbank.example") == ["an e-mail address"]


def test_what_is_found_is_masked():
    (finding,) = find_personal_data("NL91 ABNA 0417 1643 00")
    assert str(finding) == "an IBAN (…4300)"
    assert "0417" not in str(finding)


def test_a_huge_paste_is_checked_in_bounded_time():
    """The matchers read at most MAX_CHECKED_CHARS (a longer public reply is
    refused whole): digits and at-signs by the megabyte do not keep a request busy."""
    assert kinds("1 " * 2_000_000 + "06-12345678") == []
    assert kinds("a@" * 1_000_000) == []
    assert kinds("NL91---" * 100_000) == []


@pytest.mark.django_db
def test_a_public_reply_with_personal_data_is_refused_and_a_private_one_sent(agent):
    case = CaseFactory(channel="x_search")
    with pytest.raises(CaseError) as refused:
        services.case_reply(
            case=case,
            agent=agent,
            actor=agent,
            text="We zien NL91 ABNA 0417 1643 00, bel 06-12345678. ^Anna",
        )
    assert "an IBAN (…4300), a phone number (…5678)" in str(refused.value)
    assert "reply privately" in str(refused.value)
    assert not Reply.objects.exists()
    services.case_reply(
        case=case,
        agent=agent,
        actor=agent,
        is_private=True,
        text="We zien NL91 ABNA 0417 1643 00, bel 06-12345678. ^Anna",
    )
    assert Reply.objects.get().is_private
