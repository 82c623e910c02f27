/*
 * scantix: reports changes people make to scantix's records back to scantix (ServiceNow has no
 * webhooks of its own). Set-up, step by step: infra/servicenow/README.md.
 *
 * Business Rule (System Definition > Business Rules > New)
 *   Name:       scantix: report changes
 *   Table:      incident (or the table scantix files in: SERVICENOW_TABLE)
 *   Advanced:   checked
 *   When:       after; Update and Delete checked (not Insert: scantix made the record)
 *   Condition:  current.correlation_display == 'scantix'
 *   Script:     this file
 *
 * System properties (sys_properties), read at every run:
 *   scantix.webhook.url     type string     the stack's ServiceNowWebhookUrl output
 *   scantix.webhook.secret  type password2  the value of the ServiceNowWebhookSecretArn secret
 *                                           (ASCII; e.g. `openssl rand -hex 32`)
 *
 * What is sent (scantix_webhooks::servicenow reads it): one JSON body per change, with the
 * change's id `<sys_id>:<sys_mod_count>` in X-Scantix-Delivery (scantix drops a delivery it has
 * seen) and `sha256=<base64 HMAC-SHA256 of the body>` in X-Scantix-Signature. The body is kept to
 * ASCII (other characters as \uXXXX escapes) so that the bytes signed are the bytes sent.
 *
 * ES5 on purpose: global business rules run in ServiceNow's ES5 engine unless the instance
 * enables the newer one.
 */
(function executeRule(current, previous /* null on delete */) {
    var url = gs.getProperty('scantix.webhook.url');
    var secret = gs.getProperty('scantix.webhook.secret');
    if (!url || !secret) {
        gs.warn('scantix: set the scantix.webhook.url and scantix.webhook.secret properties');
        return;
    }

    var event;
    if (current.operation() == 'delete') {
        event = 'deleted';
    } else if (current.state.changes() || current.assigned_to.changes()) {
        event = 'updated';
    } else if (current.work_notes.changes() || current.comments.changes()) {
        event = 'commented';
    } else {
        return; // an edit of another field: nothing scantix acts on
    }

    var comment = '';
    if (event == 'commented') {
        comment = current.work_notes.changes()
            ? current.work_notes.getJournalEntry(1)
            : current.comments.getJournalEntry(1);
    }
    var sysId = current.getUniqueValue();
    var body = {
        delivery: sysId + ':' + (event == 'deleted' ? 'deleted' : current.getValue('sys_mod_count')),
        event: event,
        table: current.getTableName(),
        sys_id: sysId,
        number: current.getValue('number') || '',
        state: current.getValue('state') || '',
        state_name: current.getDisplayValue('state') || '',
        close_code: current.getValue('close_code') || '',
        assigned_to_changed: event == 'updated' && current.assigned_to.changes(),
        assigned_to: current.assigned_to.nil() ? '' : String(current.assigned_to.user_name),
        comment: comment,
        actor: { user_name: gs.getUserName(), display_name: gs.getUserDisplayName() }
    };

    var payload = JSON.stringify(body).replace(/[\u007f-\uffff]/g, function (c) {
        return '\\u' + ('0000' + c.charCodeAt(0).toString(16)).slice(-4);
    });
    // generateMac takes the key base64-encoded and answers the MAC base64-encoded.
    var mac = new GlideCertificateEncryption().generateMac(
        GlideStringUtil.base64Encode(secret), 'HmacSHA256', payload);

    var request = new sn_ws.RESTMessageV2();
    request.setEndpoint(url);
    request.setHttpMethod('post');
    request.setRequestHeader('Content-Type', 'application/json');
    request.setRequestHeader('X-Scantix-Delivery', body.delivery);
    request.setRequestHeader('X-Scantix-Signature', 'sha256=' + mac);
    request.setRequestBody(payload);
    // Through the ECC queue: the person's save does not wait for scantix.
    request.executeAsync();
})(current, previous);
