"""Factories for tests and the demo data."""

from datetime import timedelta

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from cases.models import Agent, Case, CaseEvent, Escalation, Note, Reply, Team, Topic
from reporting.models import Survey
from sources.models import Author, Mention, Source, SourceKind


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name", locale="nl_NL")
    last_name = factory.Faker("last_name", locale="nl_NL")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    is_staff = True
    password = factory.django.Password("webcare-demo")

    @factory.post_generation
    def groups(self, create, extracted, **kwargs):
        if create and extracted:
            from django.apps import apps
            from django.contrib.auth.models import Group

            from webcare.roles import apply_roles

            if Group.objects.filter(name__in=extracted).count() < len(set(extracted)):
                # A transactional test before this one flushed the migrations' groups.
                apply_roles(apps)
            for name in extracted:
                self.groups.add(Group.objects.get(name=name))


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team
        django_get_or_create = ("name",)

    name = "Webcare"
    email = "webcare-team@example.com"


class AgentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Agent

    user = factory.SubFactory(UserFactory, groups=["agent"])
    team = factory.SubFactory(TeamFactory)


class TopicFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Topic
        django_get_or_create = ("name",)

    name = factory.Iterator(["Mobile app", "Payments", "Fees", "Mortgages", "Phishing"])


class SourceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Source

    name = factory.Sequence(lambda n: f"Source {n}")
    kind = SourceKind.X_SEARCH
    query = "@oranjebank OR oranjebank"
    url = "http://127.0.0.1:9/"


class AuthorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Author

    platform = SourceKind.X_SEARCH
    platform_id = factory.Sequence(lambda n: str(100000 + n))
    handle = factory.Sequence(lambda n: f"klant{n}")
    display_name = factory.Faker("name", locale="nl_NL")
    follower_count = factory.Faker("random_int", min=10, max=5000)


class MentionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Mention

    source = factory.SubFactory(SourceFactory)
    external_id = factory.Sequence(lambda n: str(9000000 + n))
    author = factory.SubFactory(AuthorFactory)
    text = "@oranjebank mijn pinpas werkt niet meer, wat nu?"
    language = "nl"
    published_at = factory.LazyFunction(timezone.now)
    conversation_key = factory.LazyAttribute(lambda m: f"x:{m.external_id}")


class CaseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Case

    subject = "Pinpas werkt niet"
    customer = factory.SubFactory(AuthorFactory)
    team = factory.SubFactory(TeamFactory)
    channel = SourceKind.X_SEARCH


class ReplyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Reply

    case = factory.SubFactory(CaseFactory)
    agent = factory.SubFactory(UserFactory)
    channel = SourceKind.X_SEARCH
    text = "Vervelend! Stuur je ons een DM met je postcode? ^Anna"
    signature = factory.LazyAttribute(lambda r: r.agent.first_name)


class NoteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Note

    case = factory.SubFactory(CaseFactory)
    author = factory.SubFactory(UserFactory)
    text = "Klant belt morgen terug."


class EscalationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Escalation

    case = factory.SubFactory(CaseFactory)
    department = "customer_service"
    reason = "Needs account access."


class CaseEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CaseEvent

    case = factory.SubFactory(CaseFactory)
    kind = "created"


class SurveyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Survey

    case = factory.SubFactory(CaseFactory)
    recipient = factory.LazyAttribute(lambda s: s.case.customer)
    email = "klant@example.com"
    scheduled_for = factory.LazyFunction(lambda: timezone.now() + timedelta(days=1))
