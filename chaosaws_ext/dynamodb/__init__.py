"""DynamoDB global-table replica write conflict (fault ``dynamodb-conflict``)."""
