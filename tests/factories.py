"""factory_boy factories, registered as fixtures (`customer_factory`, `customer_user_factory`, …)."""

import factory
from django.contrib.auth.hashers import make_password

from customers.models import Customer, CustomerUser, Group, Service, Validity


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer
        django_get_or_create = ("customer_id",)

    customer_id = factory.Sequence(lambda n: f"CUST{n:04d}")
    name = factory.LazyAttribute(lambda o: f"Company {o.customer_id}")
    city = "Berlin"
    validity = Validity.VALID


class CustomerUserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CustomerUser

    login = factory.Sequence(lambda n: f"user{n:04d}")
    email = factory.LazyAttribute(lambda o: f"{o.login}@example.com")
    customer_id = factory.LazyAttribute(lambda o: CustomerFactory().customer_id)
    first_name = "Anna"
    last_name = "Müller"
    city = "Berlin"
    password = factory.LazyFunction(lambda: make_password("s3cret-Passw0rd"))
    validity = Validity.VALID


class GroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Group
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"group-{n}")


class ServiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Service
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Service {n}")
