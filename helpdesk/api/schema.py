"""What the API's OpenAPI schema needs to know of our own classes (drf-spectacular extensions)."""

from drf_spectacular.authentication import BasicScheme


class StaffBasicScheme(BasicScheme):
    """HTTP Basic with the staff login lock (staff.authentication): the schema's `basicAuth`."""

    target_class = "staff.authentication.BasicAuthentication"
