"""Device management: `/devices`, `/devices/{deviceId}`, `/delete_devices`."""

from __future__ import annotations

from aiohttp import web

from core.errors import M_INVALID_PARAM, MatrixError
from homeserver.api.http import authenticate, json_response, optional_str, read_json, services
from homeserver.api.routing import EndpointRoutes
from homeserver.services.common.params import checked_device_id

routes = EndpointRoutes()


@routes("get_devices")
async def list_devices(request: web.Request) -> web.Response:
    """Spec: GET /_matrix/client/v3/devices."""
    requester = await authenticate(request)
    return json_response({"devices": await services(request).devices.list_devices(requester)})


@routes("get_device")
async def get_device(request: web.Request) -> web.Response:
    """Spec: GET /_matrix/client/v3/devices/{deviceId}."""
    requester = await authenticate(request)
    device_id = checked_device_id(request.match_info["deviceId"])
    return json_response(await services(request).devices.get_device(requester, device_id))


@routes("update_device")
async def update_device(request: web.Request) -> web.Response:
    """Spec: PUT /_matrix/client/v3/devices/{deviceId}."""
    requester = await authenticate(request)
    body = await read_json(request)
    device_id = checked_device_id(request.match_info["deviceId"])
    if "display_name" in body:
        name = optional_str(body, "display_name")
        await services(request).devices.rename(requester, device_id, name)
    else:
        await services(request).devices.get_device(requester, device_id)
    return json_response({})


@routes("delete_device")
async def delete_device(request: web.Request) -> web.Response:
    """Spec: DELETE /_matrix/client/v3/devices/{deviceId}."""
    requester = await authenticate(request)
    body = await read_json(request)
    device_id = checked_device_id(request.match_info["deviceId"])
    await services(request).devices.delete(
        requester, [device_id], body.get("auth"), request_key=f"DELETE /devices/{device_id}"
    )
    return json_response({})


@routes("delete_devices")
async def delete_devices(request: web.Request) -> web.Response:
    """Spec: POST /_matrix/client/v3/delete_devices."""
    requester = await authenticate(request)
    body = await read_json(request)
    device_ids = body.get("devices")
    if not isinstance(device_ids, list) or not all(isinstance(d, str) for d in device_ids):
        raise MatrixError(M_INVALID_PARAM, "devices must be a list of strings")
    await services(request).devices.delete(
        requester,
        [checked_device_id(d) for d in device_ids],
        body.get("auth"),
        request_key="POST /delete_devices",
    )
    return json_response({})
