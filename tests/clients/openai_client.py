"""The official `openai` package against Pixzoo's OpenAI-compatible images endpoint."""

import base64
import io
import sys
import urllib.request

import openai
from PIL import Image


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()  # a full decode, not just the header
    return image


def main(base: str) -> None:
    client = openai.OpenAI(base_url=f"{base}/v1", api_key="not-needed-when-API_KEY-is-unset")

    result = client.images.generate(model="builtin", prompt="a teapot on a wooden table", n=2, size="256x192")
    assert len(result.data) == 2, result
    images = [decode(base64.b64decode(item.b64_json)) for item in result.data]
    assert all(image.size == (256, 192) for image in images), [image.size for image in images]
    assert images[0].tobytes() != images[1].tobytes(), "n=2 gives two different images"
    assert result.data[0].revised_prompt, result.data[0]

    result = client.images.generate(model="builtin", prompt="a teapot", size="128x128", response_format="url")
    url = result.data[0].url
    assert url.startswith(base), url
    with urllib.request.urlopen(url) as response:
        assert decode(response.read()).size == (128, 128)

    try:
        client.images.generate(model="no-such-model", prompt="a teapot")
    except openai.NotFoundError as error:
        assert error.status_code == 404 and "no-such-model" in str(error), error
    else:
        raise AssertionError("an unknown model must be refused")

    try:
        client.images.generate(model="builtin", prompt="a teapot", n=9)
    except openai.BadRequestError as error:
        assert error.body["param"] == "n", error.body
    else:
        raise AssertionError("n=9 must be refused")
    print("openai client: ok")


if __name__ == "__main__":
    main(sys.argv[1])
