-- ab_campaign_config: the configured random-holdout share of one campaign (for the SRM check).
--
-- Parameters: $campaign_id (VARCHAR).
SELECT
    c.campaign_id,
    c.holdout_share
FROM campaigns AS c
WHERE c.campaign_id = $campaign_id
