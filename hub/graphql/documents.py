"""Parsing and validating GraphQL documents once, for HTTP and websockets alike.

The cost rules (:mod:`hub.graphql.limits`) run first and on their own: graphql-core's standard
rules only see a document the cost rules accepted. Parsed documents are cached, bounded in
bytes, and only once a document has been seen twice: what a client sends once (or pads
differently each time, at no cost to itself) is parsed, validated and dropped; of those first
sightings only digests are kept, a bounded number of them."""

from __future__ import annotations

import hashlib
import sys
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

from graphql import (
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    parse,
    specified_rules,
    validate,
)
from graphql.validation.validate import ValidationAbortedError
from strawberry.extensions import SchemaExtension
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule
from strawberry.types import ExecutionContext

from hub.config import GraphQLLimits
from hub.graphql.limits import cost_rules, request_error_extensions

TOO_MANY_TOKENS = "Syntax Error: Document contains more than"
# what a parsed document holds besides its text, per token (comments are tokens too), measured
# with tracemalloc on the hub's schema, validation included
BYTES_PER_TOKEN = 1024
FIRST_SIGHTINGS = 4096

# the parsed document (None if it does not parse) and the errors that stop it from executing
Entry = tuple[DocumentNode | None, list[GraphQLError]]


def _tokens(document: DocumentNode) -> int:
    token = document.loc.start_token if document.loc else None
    count = 0
    while token is not None:
        count += 1
        token = token.next
    return count


def _size(query: str, document: DocumentNode | None) -> int:
    """An estimate of the bytes an entry keeps: the text, once more in comment tokens, and the
    tokens and nodes."""
    tokens = _tokens(document) if document is not None else 0
    return 2 * sys.getsizeof(query) + BYTES_PER_TOKEN * tokens


class DocumentCache:
    def __init__(self, limits: GraphQLLimits) -> None:
        self.limits = limits
        self.cost_rules = cost_rules(limits)
        # what strawberry's own validation adds to graphql-core's
        self.rules = [*specified_rules, MaybeNullValidationRule, OneOfInputValidationRule]
        # by the text itself (the parsed document holds it anyway): no digest per request
        self.entries: OrderedDict[str, tuple[Entry, int]] = OrderedDict()
        self.size = 0
        self.seen_once: OrderedDict[bytes, None] = OrderedDict()  # digests: texts not kept

    def get(self, schema: GraphQLSchema, query: str) -> Entry:
        cached = self.entries.get(query)
        if cached is not None:
            self.entries.move_to_end(query)
            return cached[0]
        entry = self._check(schema, query)
        self._admit(query, entry, _size(query, entry[0]))
        return entry

    def _check(self, schema: GraphQLSchema, query: str) -> Entry:
        try:
            document = parse(query, max_tokens=self.limits.max_tokens)
        except GraphQLError as error:
            too_long = error.message.startswith(TOO_MANY_TOKENS)
            reason = "token_limit" if too_long else "graphql_syntax"
            error.extensions = request_error_extensions(reason)
            return None, [error]
        errors = validate(schema, document, self.cost_rules) or validate(
            schema, document, self.rules
        )
        for problem in errors:
            if isinstance(problem, ValidationAbortedError):
                # too many errors, too deep, or graphql-core's budget for comparing fields spent
                problem.extensions = request_error_extensions("validation_aborted")
        return document, list(errors)

    def _admit(self, query: str, entry: Entry, size: int) -> None:
        key = hashlib.blake2b(query.encode("utf-8", "surrogatepass"), digest_size=16).digest()
        if key not in self.seen_once:
            self.seen_once[key] = None
            if len(self.seen_once) > FIRST_SIGHTINGS:
                self.seen_once.popitem(last=False)
            return
        if size > self.limits.document_cache_bytes:
            return
        del self.seen_once[key]
        self.entries[query] = (entry, size)
        self.size += size
        while (
            self.size > self.limits.document_cache_bytes
            or len(self.entries) > self.limits.document_cache_size
        ):
            _, (_, dropped) = self.entries.popitem(last=False)
            self.size -= dropped


class CachedDocuments(SchemaExtension):
    """strawberry's parse and validate steps (websockets) answered from the hub's cache, so they
    apply the same rules in the same order as the HTTP view. A document that does not parse is
    left to strawberry, whose parser stops at the same token limit and closes the socket."""

    def __init__(self, *, documents: DocumentCache, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.documents = documents
        self.errors: list[GraphQLError] | None = None

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        if context.graphql_document is None and isinstance(context.query, str):
            document, self.errors = self.documents.get(context.schema._schema, context.query)
            context.graphql_document = document
        yield

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        if self.errors is not None and context.graphql_document is not None:
            context.pre_execution_errors = self.errors or _ambiguity(context)
        yield


AMBIGUOUS = "operationName is required: the document has more than one operation"


def _ambiguity(context: ExecutionContext) -> list[GraphQLError]:
    """A request error when no operationName picks one of several operations, as GraphQL
    says (strawberry would run the first)."""
    if getattr(context, "_provided_operation_name", None) is not None:
        return []
    assert context.graphql_document is not None
    definitions = context.graphql_document.definitions
    if sum(isinstance(d, OperationDefinitionNode) for d in definitions) < 2:
        return []
    return [GraphQLError(AMBIGUOUS, extensions=request_error_extensions("bad_operation"))]
