"""The LLM provider names: the values of ``gen_ai.provider.name`` that aither writes and reads.

They follow the OpenTelemetry GenAI conventions' well-known values (``gen_ai.provider.name``,
semantic-conventions v1.44.0, as :mod:`aither.schema.semconv` pins). The SDK's LLM adapters set
them on spans; the server stores them as the LLM call's ``provider`` and filters and totals by
them; the pricing table is keyed by them.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "ANTHROPIC",
    "AWS_BEDROCK",
    "AZURE_AI_INFERENCE",
    "AZURE_AI_OPENAI",
    "COHERE",
    "DEEPSEEK",
    "GCP_GEMINI",
    "GCP_GEN_AI",
    "GCP_VERTEX_AI",
    "GROQ",
    "MISTRAL_AI",
    "OPENAI",
    "PERPLEXITY",
    "PROVIDERS",
    "X_AI",
]

OPENAI: Final = "openai"
AZURE_AI_OPENAI: Final = "azure.ai.openai"
"""OpenAI's models served by Azure (the ``AzureOpenAI`` clients)."""
AZURE_AI_INFERENCE: Final = "azure.ai.inference"
"""Azure AI Foundry's inference API (Anthropic's ``AnthropicFoundry`` client)."""
ANTHROPIC: Final = "anthropic"
GCP_GEMINI: Final = "gcp.gemini"
"""Google's Gemini Developer API (google-genai without ``vertexai``)."""
GCP_VERTEX_AI: Final = "gcp.vertex_ai"
"""Google Cloud's Vertex AI (google-genai with ``vertexai=True``, Anthropic's Vertex client)."""
GCP_GEN_AI: Final = "gcp.gen_ai"
"""Google's generative AI when the API is not known."""
AWS_BEDROCK: Final = "aws.bedrock"
COHERE: Final = "cohere"
DEEPSEEK: Final = "deepseek"
GROQ: Final = "groq"
MISTRAL_AI: Final = "mistral_ai"
PERPLEXITY: Final = "perplexity"
X_AI: Final = "x_ai"

PROVIDERS: Final = frozenset(
    {
        OPENAI,
        AZURE_AI_OPENAI,
        AZURE_AI_INFERENCE,
        ANTHROPIC,
        GCP_GEMINI,
        GCP_VERTEX_AI,
        GCP_GEN_AI,
        AWS_BEDROCK,
        COHERE,
        DEEPSEEK,
        GROQ,
        MISTRAL_AI,
        PERPLEXITY,
        X_AI,
    }
)
"""Every provider name aither writes; a span from elsewhere may carry any other string."""
