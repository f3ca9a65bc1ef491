"""The tutor behind ``POST /chatkit``: chatkit server, prompt, models.

chatkit's streaming path and the Agents SDK are asyncio code; the thread actors run them
through ``robolearn._aio`` and never touch asyncio themselves.
"""

from ._coalesce import CoalescingModel
from ._context import MetadataError, PageContext, RequestContext, UserInfo, parse_metadata
from ._links import AttachmentLinks, PreviewRefused, PreviewSigner
from ._local_model import LocalTutorModel
from ._memo import MemoStore, ThreadMemo
from ._models import NotConfigured
from ._server import REQUEST_ADAPTER, FeedbackSink, RoboLearnChatKitServer
from ._text_model import ScriptedTokensModel, TextStreamModel
from ._tool import SEARCH_TOOL_NAME, SearchFindings, search_tool

__all__ = [
    "REQUEST_ADAPTER",
    "SEARCH_TOOL_NAME",
    "AttachmentLinks",
    "CoalescingModel",
    "FeedbackSink",
    "LocalTutorModel",
    "MemoStore",
    "MetadataError",
    "NotConfigured",
    "PageContext",
    "PreviewRefused",
    "PreviewSigner",
    "RequestContext",
    "RoboLearnChatKitServer",
    "ScriptedTokensModel",
    "SearchFindings",
    "TextStreamModel",
    "ThreadMemo",
    "UserInfo",
    "parse_metadata",
    "search_tool",
]
