"""dynamodb-ttl-archive: archive DynamoDB items to S3 when TTL deletes them, and analyse the archive.

Every public function takes the ``boto3.Session`` it should use; get one with :func:`session`.
"""

from .settings import Settings
from .target import CredentialsMissing, identity, is_local, session

__all__ = ["CredentialsMissing", "Settings", "identity", "is_local", "session"]
