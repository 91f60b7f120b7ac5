"""Everything that leaves the device over MQTT: sessions (from the store's outbox), the
retained summary and status, and Home Assistant discovery configs.

The appliance builds :class:`~affectra_edge.publish.mqtt.MqttPublisher` when ``[mqtt]
enabled`` is true (see :meth:`affectra_edge.app.Appliance.from_config`); paho is imported only
then.
"""
