"""Realistic demo data: a living system for a newcomer, built through the real services.

Cases go through the same services the team uses, so their audit trails, due times and
surveys are what the system itself would have written; afterwards their times are moved
into the past so that reports have history. It lives in reporting, the top of the
house, because it fills every app (sources, cases, surveys).
"""

import random
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from cases import services
from cases.models import (
    Agent,
    ApprovedFact,
    Case,
    CaseEvent,
    CloseReason,
    DepartmentMembership,
    Reply,
    ReplyTemplate,
    Team,
    Topic,
)
from reporting.models import Survey, SurveyStatus
from sources.models import Author, Mention, Source, SourceKind
from sources.triage.services import mentions_triage
from tests.factories import AuthorFactory, MentionFactory, SourceFactory, UserFactory

DEMO_PASSWORD = "webcare-demo"  # noqa: S105 - printed by bin/demo, demo only

# What customers post; the classifier and the rules decide what each one is.
MENTIONS = [
    (
        "@oranjebank mijn pinpas is ingeslikt bij de automaat in Utrecht, wat moet ik doen?",
        "nl",
    ),
    (
        "@oranjebank Hoe verhoog ik mijn daglimiet voor iDEAL? Kan het niet vinden in de app",
        "nl",
    ),
    ("@oranjebank how do I add my partner to our joint account from abroad?", "en"),
    (
        "@oranjebank al 3 dagen geen salaris op mijn rekening terwijl het wel is overgemaakt!! 😡",
        "nl",
    ),
    (
        "@oranjebank your app logs me out every 30 seconds since the update. Useless.",
        "en",
    ),
    ("@oranjebank storing? Kan niet inloggen en moet de huur betalen vandaag", "nl"),
    (
        "Oranjebank rekent vanaf januari 5 euro per pinbetaling, schandalig #oranjebank",
        "nl",
    ),
    ("Heard @oranjebank is closing ALL its branches next month. Typical.", "en"),
    (
        "Let op! Nep-sms namens @oranjebank: 'uw pas verloopt, klik hier'. Niet klikken! #phishing",
        "nl",
    ),
    (
        "@oranjebank got an email saying my account is blocked with a link to oranjebank-verify.com, is this you?",
        "en",
    ),
    ("Het oude blauwe logo van @oranjebank was veel mooier dan dat oranje", "nl"),
    (
        "Bedankt @oranjebank, Anna heeft me super snel geholpen met mijn nieuwe pas! 🙏",
        "nl",
    ),
    ("@oranjebank stelletje oplichters, kankerbank", "nl"),
    (
        "🚀 Earn 500% with crypto signals! DM me, better than @oranjebank savings 🚀",
        "en",
    ),
    ("@oranjebank wanneer komt Apple Pay voor de creditcard?", "nl"),
    (
        "@oranjebank thanks for the quick help with my mortgage question yesterday!",
        "en",
    ),
]


def _user(username, first_name, last_name, groups, *, superuser=False):
    User = get_user_model()
    user = User.objects.filter(username=username).first()
    if user:
        return user
    user = UserFactory(
        username=username,
        first_name=first_name,
        last_name=last_name,
        groups=groups,
        is_superuser=superuser,
        password=DEMO_PASSWORD,
    )
    return user


def _demo_templates_and_facts(spokesperson, *, today) -> None:
    """Replies the team gives often, in both languages, and facts for correcting
    factual inaccuracies: one current, one past its review date (never offered)."""
    for name, language, category, text in (
        (
            "Excuses en DM",
            "nl",
            "complaint",
            "Hoi {customer}, vervelend dat dit gebeurt! Stuur je ons een DM met je "
            "klantnummer? Dan zoeken we het direct uit. Groet, {agent}",
        ),
        (
            "We zoeken het uit",
            "nl",
            "",
            "Hoi {customer}, dank voor je bericht. We zoeken het uit en laten het je "
            "vandaag weten. Groet, {agent}",
        ),
        (
            "Rechtzetting",
            "nl",
            "factual_inaccuracy",
            "Hoi {customer}, dat klopt niet helemaal: ... Groet, {agent}",
        ),
        (
            "Apology and DM",
            "en",
            "complaint",
            "Hi {customer}, sorry to hear that! Could you send us a DM with your "
            "customer number? We'll look into it right away. Best, {agent}",
        ),
        (
            "Looking into it",
            "en",
            "",
            "Hi {customer}, thanks for letting us know. We're looking into it and "
            "will get back to you today. Best, {agent}",
        ),
    ):
        ReplyTemplate.objects.get_or_create(
            name=name,
            language=language,
            defaults={"category": category, "text": text},
        )
    for statement, review_by in (
        (
            "Pinnen en betalen met je pas in landen met de euro kost niets extra.",
            today + timedelta(days=120),
        ),
        (
            "De spaarrente op de Oranje Spaarrekening is 1,5%.",
            today - timedelta(days=10),
        ),
    ):
        ApprovedFact.objects.get_or_create(
            statement=statement,
            defaults={
                "language": "nl",
                "owner_department": "pr",
                "owner": spokesperson,
                "sources": "https://www.example.com/tarieven",
                "review_by": review_by,
            },
        )


@transaction.atomic
def load_demo_data(*, seed: int = 7) -> dict:
    """Create the demo team, sources, mentions, cases, escalations and surveys once."""
    if Case.objects.exists():
        return {"created": False, "cases": Case.objects.count()}
    rng = random.Random(seed)
    now = timezone.now()

    team, _ = Team.objects.get_or_create(
        name=settings.WEBCARE_TEAM_NAME, defaults={"email": settings.WEBCARE_TEAM_EMAIL}
    )
    admin = _user("admin", "Admin", "Webcare", ["manager"], superuser=True)
    agents = [
        _user("anna", "Anna", "de Vries", ["agent"]),
        _user("bram", "Bram", "Jansen", ["agent"]),
        _user("chantal", "Chantal", "Bakker", ["agent"]),
    ]
    for user in agents:
        Agent.objects.get_or_create(user=user, defaults={"team": team})
    Agent.objects.filter(user=agents[2]).update(is_available=False)
    spokesperson = _user("sanne", "Sanne", "Visser", ["spokesperson"])
    customer_service = _user("karim", "Karim", "El Amrani", ["customer_service"])
    # Anna leads the team (takes over and moves colleagues' cases); Karim also
    # handles phishing for security (sees and acts on its escalations).
    Agent.objects.filter(user=agents[0]).update(is_team_lead=True)
    DepartmentMembership.objects.get_or_create(
        user=customer_service, department="security"
    )
    topics = [
        Topic.objects.get_or_create(name=name)[0]
        for name in ("Mobile app", "Payments", "Fees", "Cards", "Phishing")
    ]

    _demo_templates_and_facts(spokesperson, today=timezone.localdate())

    x_search = SourceFactory(
        name="X: @oranjebank",
        kind=SourceKind.X_SEARCH,
        is_primary=True,
        query="@oranjebank OR oranjebank -is:retweet",
        url="https://api.x.com/",
        is_active=False,  # needs X_BEARER_TOKEN; activate in the admin once it is set
    )
    SourceFactory(
        name="Mastodon #oranjebank",
        kind=SourceKind.MASTODON,
        query="oranjebank",
        url="https://mastodon.social/",
        is_active=False,
    )
    SourceFactory(
        name="Reddit r/geldzaken",
        kind=SourceKind.REDDIT,
        query="oranjebank",
        url="https://oauth.reddit.com/",
        is_active=False,
    )
    SourceFactory(
        name="Geldforum (demo feed)",
        kind=SourceKind.FEED,
        is_primary=True,
        url="http://127.0.0.1:8000/static/sources/demo-forum.xml",
        keywords="oranjebank\nOranje Bank",
        query="",
    )
    manual = SourceFactory(
        name="Manual / pushed", kind=SourceKind.MANUAL, url="", query=""
    )

    authors = [AuthorFactory() for _ in range(40)]
    journalist = authors[0]
    journalist.is_journalist = True
    journalist.follower_count = 48000
    journalist.handle = "jdeboer_fd"
    journalist.save()
    for author in authors[::3]:
        author.email = f"{author.handle}@example.com"
        author.save(update_fields=["email"])

    # Mentions arrive as the poller would store them, then go through the real triage:
    # the rules decide, engaged ones open (or join) cases, doubtful ones wait for review.
    mention_ids = []
    for index, (text, language) in enumerate(MENTIONS * 3):
        author = authors[index % len(authors)]
        mention = MentionFactory(
            source=x_search if index % 5 else manual,
            author=author,
            text=text,
            language=language,
            published_at=now - timedelta(minutes=rng.randint(5, 6 * 60)),
            likes=rng.randint(0, 40),
            reposts=rng.randint(0, 3),
        )
        mention_ids.append(mention.pk)
    mentions_triage(mention_ids=mention_ids, actor_label="system:demo")

    # Move the cases through the team's work so that every state is on show.
    statuses = ["new", "open", "waiting", "escalated", "resolved", "closed"]
    for index, case in enumerate(Case.objects.order_by("pk")):
        case.topics.add(rng.choice(topics))
        target = statuses[index % len(statuses)]
        agent = agents[index % 2]
        if target != "new":
            services.case_assign(case=case, assignee=agent, actor=admin)
            services.case_reply(
                case=case,
                agent=agent,
                channel=case.channel,
                text="Vervelend om te lezen! Stuur je ons een DM met je postcode, "
                "dan zoeken we het uit.",
            )
        if target == "waiting":
            services.case_wait_for_customer(case=case, actor=agent)
        if target == "escalated" and not case.escalations.exists():
            escalation = services.case_escalate(
                case=case,
                department="customer_service",
                reason="Needs account access we do not have.",
                actor=agent,
            )
            if index % 2:
                services.escalation_acknowledge(
                    escalation=escalation, actor=customer_service
                )
        if target in ("resolved", "closed"):
            for escalation in case.escalations.exclude(status="resolved"):
                services.escalation_resolve(
                    escalation=escalation, note="Handled.", actor=customer_service
                )
            services.case_resolve(case=case, actor=agent)
        if target == "closed":
            services.case_close(case=case, reason=CloseReason.HELPED, actor=agent)
        if case.category == "factual_inaccuracy" and target == "open":
            services.case_add_note(
                case=case,
                author=spokesperson,
                text="Checked with woordvoering: the claim is false; answer with "
                "the facts.",
            )

    # History: helped customers of the last weeks and their answers, so that the NPS
    # figures have enough answers to mean something.
    scores = [10, 9, 9, 8, 7, 10, 6, 3, 9, 10, 8, 9, 5, 10, 9, 7, 9, 10, 4, 8]
    for number in range(40):
        customer = AuthorFactory(email=f"klant{number}@example.com")
        agent = agents[number % 3]
        case = services.case_open(
            subject=rng.choice(MENTIONS)[0][:120],
            customer=customer,
            team=team,
            channel=SourceKind.X_SEARCH,
            actor_label="system:demo",
        )
        services.case_assign(case=case, assignee=agent, actor=admin)
        services.case_reply(
            case=case, agent=agent, channel=case.channel, text="Opgelost, fijne dag!"
        )
        services.case_resolve(case=case, actor=agent)
        case.topics.add(rng.choice(topics))
        # Move the whole case back in time, every timestamp by the same shift, so its
        # response and resolution times stay what the services recorded.
        shift = timedelta(days=rng.randint(2, 60), minutes=rng.randint(0, 600))
        Case.objects.filter(pk=case.pk).update(
            created_at=F("created_at") - shift,
            first_response_at=F("first_response_at") - shift,
            resolved_at=F("resolved_at") - shift,
            first_response_due_at=F("first_response_due_at") - shift,
            resolution_due_at=F("resolution_due_at") - shift,
        )
        Reply.objects.filter(case=case).update(sent_at=F("sent_at") - shift)
        CaseEvent.objects.filter(case=case).update(created_at=F("created_at") - shift)
        helped = now - shift
        score = scores[number % len(scores)]
        Survey.objects.filter(case=case).update(
            status=SurveyStatus.ANSWERED,
            score=score,
            sent_at=helped + timedelta(days=1),
            responded_at=helped + timedelta(days=1, hours=rng.randint(1, 30)),
            comment="Snel en vriendelijk geholpen." if score >= 9 else "",
        )
    return {
        "created": True,
        "cases": Case.objects.count(),
        "mentions": Mention.objects.count(),
        "sources": Source.objects.count(),
        "authors": Author.objects.count(),
        "surveys": Survey.objects.count(),
    }
