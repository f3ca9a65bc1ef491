"""The tutor behind ``POST /chatkit``: chatkit server, prompt, models.

chatkit's streaming path and the Agents SDK are asyncio code; the thread actors run them
through ``robolearn._aio`` and never touch asyncio themselves.
"""

from ._attachments import AttachmentLimits, BlobAttachmentStore
from ._coalesce import CoalescingModel
from ._context import MetadataError, PageContext, RequestContext, UserInfo, parse_metadata
from ._links import AttachmentLinks, PreviewRefused, PreviewSigner
from ._local_model import LocalTutorModel
from ._memo import ThreadMemo
from ._memo_store import MemoStore
from ._model_input import ModelInputConverter
from ._models import (
    NotConfigured,
    ProviderTranscriber,
    build_model,
    probe_provider,
    provider_client,
)
from ._server import REQUEST_ADAPTER, FeedbackSink, RoboLearnChatKitServer
from ._target import RequestTarget, request_target
from ._text_model import ScriptedTokensModel, TextStreamModel
from ._titles import ModelTitler
from ._tool import SEARCH_TOOL_NAME, SearchFindings, search_tool
from ._turn_context import TurnContext
from ._turns import ChatJob, ChatTurns, RequestChecks, ThreadKey, ThreadQuota, TurnFailed
from ._tutor_eval import TutorAnswer, answer_questions, score_answers

__all__ = [
    "REQUEST_ADAPTER",
    "SEARCH_TOOL_NAME",
    "AttachmentLimits",
    "AttachmentLinks",
    "BlobAttachmentStore",
    "ChatJob",
    "ChatTurns",
    "CoalescingModel",
    "FeedbackSink",
    "LocalTutorModel",
    "MemoStore",
    "MetadataError",
    "ModelInputConverter",
    "ModelTitler",
    "NotConfigured",
    "PageContext",
    "PreviewRefused",
    "PreviewSigner",
    "ProviderTranscriber",
    "RequestChecks",
    "RequestContext",
    "RequestTarget",
    "RoboLearnChatKitServer",
    "ScriptedTokensModel",
    "SearchFindings",
    "TextStreamModel",
    "ThreadKey",
    "ThreadMemo",
    "ThreadQuota",
    "TurnContext",
    "TurnFailed",
    "TutorAnswer",
    "UserInfo",
    "answer_questions",
    "build_model",
    "parse_metadata",
    "probe_provider",
    "provider_client",
    "request_target",
    "score_answers",
    "search_tool",
]
