"""/v1/files and /v1/models"""

from __future__ import annotations

from django.http import Http404, HttpRequest
from django.utils import timezone

from chat.access import get_file_for_user
from chat.api import serializers
from chat.api.errors import ApiError, invalid, not_found
from chat.api.http import form_data, ok
from chat.api.pagination import page
from chat.downloads import file_response
from chat.models import File
from chat.providers import available_models
from chat.services.files import upload_file

UPLOAD_PURPOSES = ("assistants", "vision", "user_data")


def _get(request: HttpRequest, file_id: str) -> File:
    try:
        return get_file_for_user(request.user, file_id)
    except Http404:
        raise not_found(f"No such File object: {file_id}") from None


def upload(request: HttpRequest):
    fields, uploads = form_data(request)
    upload = uploads.get("file")
    if upload is None:
        raise invalid("Missing required parameter: 'file'.", param="file", code="missing_required_parameter")
    purpose = fields.get("purpose")
    if purpose not in UPLOAD_PURPOSES:
        raise invalid(f"Invalid value for 'purpose': {purpose!r}. This server supports: {', '.join(UPLOAD_PURPOSES)}.", param="purpose")
    unknown = set(fields) - {"purpose", "expires_after[anchor]", "expires_after[seconds]"}
    if unknown:
        name = sorted(unknown)[0]
        raise invalid(f"Unknown parameter: '{name}'.", param=name, code="unknown_parameter")
    record = upload_file(request.user, upload.name or "file", upload, purpose=purpose)
    record.status = File.PROCESSED
    record.save(update_fields=["status"])
    return ok(serializers.file(record))


def list_(request: HttpRequest):
    files = File.objects.filter(owner=request.user)
    if request.GET.get("purpose"):
        files = files.filter(purpose=request.GET["purpose"])
    # The hosted files list defaulted to 10 000 per page; the SDK pages with `after` either way.
    return ok(page(request, files, serializers.file))


def retrieve(request: HttpRequest, file_id: str):
    return ok(serializers.file(_get(request, file_id)))


def delete(request: HttpRequest, file_id: str):
    record = _get(request, file_id)
    record.data.delete(save=False)
    record.delete()
    return ok(serializers.deleted(file_id, "file"))


def content(request: HttpRequest, file_id: str):
    record = _get(request, file_id)
    try:
        return file_response(record, inline=True)
    except (FileNotFoundError, ValueError):
        raise not_found(f"The content of file {file_id} is missing.") from None


# --- models --------------------------------------------------------------------------------

_STARTED = int(timezone.now().timestamp())


def model_list(request: HttpRequest):
    return ok({"object": "list", "data": [serializers.model(name, _STARTED) for name in available_models()]})


def model_retrieve(request: HttpRequest, model: str):
    if model not in available_models():
        raise ApiError(404, f"The model '{model}' does not exist or you do not have access to it.", code="model_not_found")
    return ok(serializers.model(model, _STARTED))


