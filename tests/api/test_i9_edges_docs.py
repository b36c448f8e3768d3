"""Issue 9, the product's edges: /docs works offline (its assets come from the package)."""

from __future__ import annotations

import re

import httpx2


async def test_i9_docs_load_swagger_ui_from_the_package_never_a_cdn(
    api: httpx2.AsyncClient,
) -> None:
    for page in ("/docs", "/redoc"):
        html = (await api.get(page)).text
        assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html)
        assert assets, page
        for url in assets:
            assert url.startswith("/"), f"{page} loads {url} from elsewhere"
            asset = await api.get(url)
            assert asset.status_code == 200, url
            assert len(asset.content) > 1000, url
        assert "openapi.json" in html
    swagger = (await api.get("/docs")).text
    assert "swagger-ui-bundle.js" in swagger
